/* hash_dir: hash every regular file of a directory with a thread pool.
 *
 *   hash_dir [DIR]        (default: ./src if it exists, else .)
 *
 * Pass 1 submits one task per file and reports progress in completion order
 * with fut_as_completed. Pass 2 re-hashes the files with fut_executor_map,
 * which yields the results in input (name) order, and checks them against
 * pass 1. The hash is 64-bit FNV-1a.
 *
 * Ctrl-C sets a flag (the handler does nothing else: no libfutures function
 * is async-signal-safe). The main thread sees it after the next completion,
 * asks running tasks to stop (fut_future_cancel: tasks poll
 * fut_task_cancel_requested) and calls fut_executor_shutdown(ex, true, true),
 * which cancels the queued tasks and waits for the running ones.
 */
#define _POSIX_C_SOURCE 200809L
#include <futures.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

struct file_hash {
    uint64_t hash;
    uint64_t size;
};

/* Task: arg is a NUL-terminated path; the value is a malloc'ed file_hash. */
static int32_t hash_file(fut_task *task, const void *arg, size_t arg_len) {
    (void)arg_len;
    const char *path = arg;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        fut_task_set_error(task, err, strerror(err));
        return err;
    }
    uint64_t h = 14695981039346656037ULL; /* FNV-1a offset basis */
    uint64_t size = 0;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (fut_task_cancel_requested(task)) { /* cooperative stop */
            fclose(f);
            return FUT_ERR_CANCELLED;
        }
        for (size_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= 1099511628211ULL; /* FNV prime */
        }
        size += n;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fut_task_set_error(task, EIO, "read error");
        return EIO;
    }
    struct file_hash *out = malloc(sizeof *out);
    if (!out) return ENOMEM;
    out->hash = h;
    out->size = size;
    return fut_task_set_result(task, out, sizeof *out, free);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files directly in `dir`, sorted; paths are malloc'ed. */
static char **list_files(const char *dir, size_t *count) {
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return NULL;
    }
    size_t n = 0, cap = 16;
    char **paths = malloc(cap * sizeof *paths);
    struct dirent *e;
    while (paths && (e = readdir(d)) != NULL) {
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path) break;
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            char **bigger = realloc(paths, (cap *= 2) * sizeof *paths);
            if (!bigger) {
                free(path);
                break;
            }
            paths = bigger;
        }
        paths[n++] = path;
    }
    closedir(d);
    if (paths) qsort(paths, n, sizeof *paths, by_name);
    *count = n;
    return paths;
}

/* Ctrl-C: ask running tasks to stop, cancel queued ones, wait for the rest. */
static void stop_everything(fut_executor *ex, fut_future **fs, size_t n) {
    fprintf(stderr, "interrupted: cancelling\n");
    for (size_t i = 0; i < n; i++)
        if (fs[i]) fut_future_cancel(fs[i]);
    fut_executor_shutdown(ex, true, true);
}

int main(int argc, char **argv) {
    struct stat st;
    const char *dir = argc > 1 ? argv[1] : (stat("src", &st) == 0 && S_ISDIR(st.st_mode) ? "src" : ".");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    size_t nfiles = 0;
    char **paths = list_files(dir, &nfiles);
    if (!paths) return 1;
    size_t n = nfiles; /* files with a future */

    fut_executor *ex;
    fut_thread_pool_options opts;
    fut_thread_pool_options_init(&opts);
    opts.thread_name_prefix = "hash";
    if (fut_thread_pool_new(&opts, &ex) != FUT_OK) return 1;

    int rc = 0;
    /* Pass 1: submit everything, report progress as tasks complete. */
    fut_future **fs = calloc(n ? n : 1, sizeof *fs);
    for (size_t i = 0; i < n; i++) {
        /* The path stays valid until the end: no arg_drop needed. */
        fut_status s = fut_executor_submit(ex, hash_file, paths[i], strlen(paths[i]) + 1, NULL, &fs[i]);
        if (s != FUT_OK) {
            fprintf(stderr, "submit: %s\n", fut_status_str(s));
            rc = 1;
            n = i;
            break;
        }
    }
    fut_as_completed *it;
    if (fut_as_completed_new(fs, n, FUT_WAIT_FOREVER, &it) != FUT_OK) return 1;
    size_t index, done = 0;
    fut_future *f;
    while (!interrupted && fut_as_completed_next(it, &index, &f) == FUT_OK) {
        done++;
        fprintf(stderr, "\r[%zu/%zu] %-60.60s", done, n, paths[index]);
        fut_future_release(f);
    }
    fprintf(stderr, "\n");
    fut_as_completed_release(it);

    if (interrupted) {
        stop_everything(ex, fs, n);
        rc = 130;
    } else {
        /* Pass 2: re-hash in input order with map, compare with pass 1. */
        fut_item *items = calloc(n ? n : 1, sizeof *items);
        for (size_t i = 0; i < n; i++) {
            items[i].arg = paths[i];
            items[i].arg_len = strlen(paths[i]) + 1;
        }
        fut_map *m;
        fut_status s = fut_executor_map(ex, hash_file, items, n, FUT_WAIT_FOREVER, 1, &m);
        if (s != FUT_OK) {
            fprintf(stderr, "map: %s\n", fut_status_str(s));
            rc = 1;
        } else {
            uint64_t total = 0;
            for (size_t i = 0; i < n && !interrupted; i++) {
                if (fut_map_next(m, &f) != FUT_OK) {
                    rc = 1;
                    break;
                }
                void *v1, *v2;
                fut_status s1 = fut_future_result(fs[i], 0, &v1, NULL);
                fut_status s2 = fut_future_result(f, 0, &v2, NULL);
                if (s1 == FUT_OK && s2 == FUT_OK) {
                    const struct file_hash *a = v1, *b = v2;
                    printf("%016" PRIx64 " %10" PRIu64 " %s%s\n", b->hash, b->size, paths[i],
                           a->hash == b->hash ? "" : "  (changed between passes)");
                    total += b->size;
                } else {
                    fut_error_info e;
                    fut_status which = s2 != FUT_OK ? s2 : s1;
                    fut_future *bad = s2 != FUT_OK ? f : fs[i];
                    if (fut_future_exception(bad, 0, &e) == FUT_OK && e.message)
                        printf("%-27s %s: %s\n", "error", paths[i], e.message);
                    else
                        printf("%-27s %s: %s\n", "error", paths[i], fut_status_str(which));
                }
                fut_future_release(f);
            }
            fut_map_release(m); /* cancels what was not yielded (Ctrl-C) */
            if (interrupted) {
                stop_everything(ex, fs, n);
                rc = 130;
            } else {
                printf("%zu files, %" PRIu64 " bytes\n", n, total);
            }
        }
        free(items);
    }

    fut_executor_release(ex); /* shutdown(wait=true) */
    for (size_t i = 0; i < n; i++) fut_future_release(fs[i]);
    free(fs);
    for (size_t i = 0; i < nfiles; i++) free(paths[i]);
    free(paths);
    return rc;
}
