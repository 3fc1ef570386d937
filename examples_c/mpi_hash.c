/* mpi_hash: hash every file under a directory, across MPI ranks.
 *
 *   mpirun -n 4 ./mpi_hash DIR                        one machine
 *   mpirun -n 16 --hostfile hosts ./mpi_hash DIR      several (DIR on every one)
 *
 * Every rank registers the task "hash_file" by name; rank 0 lists the files
 * and submits one task per path (the path travels, not a pointer), the
 * other ranks serve. Results arrive as they finish (fut_as_completed).
 * Built with -DFUTURES_MPI=ON. */
#define _POSIX_C_SOURCE 200809L
#include <futures_mpi.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* FNV-1a, 64 bits, over the file named by the argument. */
static int32_t hash_file(fut_task *task, const void *arg, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int)len, (const char *)arg);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fut_task_set_error(task, 2, "cannot open the file");
        return 2;
    }
    uint64_t h = 1469598103934665603ull;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 1099511628211ull;
    fclose(f);
    uint64_t *v = malloc(sizeof *v);
    if (!v) return 12;
    *v = h;
    return fut_task_set_result(task, v, sizeof *v, free);
}

struct files {
    char **paths;
    size_t n, cap;
};

static void list_files(const char *dir, struct files *out) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            list_files(path, out);
        } else if (S_ISREG(st.st_mode)) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 64;
                out->paths = realloc(out->paths, out->cap * sizeof *out->paths);
                if (!out->paths) abort();
            }
            out->paths[out->n++] = strdup(path);
        }
    }
    closedir(d);
}

static int host(const char *dir) {
    fut_executor *ex = NULL;
    if (fut_mpi_pool_new(MPI_COMM_WORLD, NULL, &ex) != FUT_OK) {
        fprintf(stderr, "mpi_hash: needs 2 ranks or more and MPI_THREAD_SERIALIZED\n");
        return 1;
    }
    struct files fl = {0};
    list_files(dir, &fl);
    fut_future **fs = calloc(fl.n ? fl.n : 1, sizeof *fs);
    int failed = 0;
    for (size_t i = 0; i < fl.n; i++)
        if (fut_executor_submit_named(ex, "hash_file", fl.paths[i], strlen(fl.paths[i]), NULL, &fs[i]) != FUT_OK)
            return 1;
    fut_as_completed *it = NULL;
    if (fut_as_completed_new(fs, fl.n, 600 * (int64_t)1000000000, &it) != FUT_OK) return 1;
    fut_future *f;
    size_t i;
    while (fut_as_completed_next(it, &i, &f) == FUT_OK) {
        void *v;
        fut_error_info e;
        if (fut_future_result(f, 0, &v, NULL) == FUT_OK) {
            printf("%016" PRIx64 "  %s\n", *(uint64_t *)v, fl.paths[i]);
        } else if (fut_future_exception(f, 0, &e) == FUT_OK) {
            printf("error: %s: %s\n", fl.paths[i], e.message);
            failed = 1;
        }
        fut_future_release(f);
    }
    fut_as_completed_release(it);
    for (size_t i = 0; i < fl.n; i++) {
        fut_future_release(fs[i]);
        free(fl.paths[i]);
    }
    fprintf(stderr, "mpi_hash: %zu files\n", fl.n);
    free(fs);
    free(fl.paths);
    fut_executor_release(ex); /* shuts the pool down: the workers' serve returns */
    return failed;
}

int main(int argc, char **argv) {
    int provided, rank, rc = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fut_register_task("hash_file", hash_file); /* on every rank, before serving */
    if (rank == 0)
        rc = host(argc > 1 ? argv[1] : ".");
    else
        rc = fut_mpi_serve(MPI_COMM_WORLD) == FUT_OK ? 0 : 1;
    MPI_Finalize();
    return rc;
}
