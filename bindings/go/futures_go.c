#include "futures_go.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "_cgo_export.h"

/* A Go task: the argument is a cgo.Handle, not a pointer; the library never
 * dereferences it (length 0, no destructor). */
static int32_t fut_go_task_trampoline(fut_task *t, const void *arg, size_t len)
{
    (void)len;
    return futGoTaskCall(t, (uintptr_t)arg);
}

int32_t fut_go_named_trampoline(fut_task *t, const void *arg, size_t len)
{
    return futGoNamedCall(t, (void *)arg, len);
}

fut_status fut_go_worker_entry(int argc, char **argv)
{
    return fut_worker_entry(argc, argv);
}

fut_status fut_go_submit_handle(fut_executor *ex, uintptr_t h, fut_future **out)
{
    return fut_executor_submit(ex, fut_go_task_trampoline, (const void *)h, 0, NULL, out);
}

static fut_status copy_bytes(const void *p, size_t n, void **out)
{
    *out = NULL;
    if (n == 0) return FUT_OK;
    *out = malloc(n);
    if (*out == NULL) return FUT_ERR_NO_MEMORY;
    memcpy(*out, p, n);
    return FUT_OK;
}

fut_status fut_go_submit_bytes(fut_executor *ex, fut_task_fn fn, const void *p, size_t n,
                               fut_future **out)
{
    void *copy;
    fut_status st = copy_bytes(p, n, &copy);
    if (st != FUT_OK) return st;
    st = fut_executor_submit(ex, fn, copy, n, copy ? free : NULL, out);
    if (st != FUT_OK) free(copy);
    return st;
}

fut_status fut_go_map_bytes(fut_executor *ex, fut_task_fn fn, const void *buf, const size_t *lens,
                            size_t n, int64_t timeout_ns, size_t chunksize, fut_map **out)
{
    fut_item *items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL) return FUT_ERR_NO_MEMORY;
    const char *p = buf;
    for (size_t i = 0; i < n; i++) {
        items[i].arg = lens[i] ? p : NULL;
        items[i].arg_len = lens[i];
        p += lens[i];
    }
    fut_status st = fut_executor_map(ex, fn, items, n, timeout_ns, chunksize, out);
    free(items);
    return st;
}

static int32_t fut_go_produce(void *user, fut_item *item, fut_drop_fn *item_drop)
{
    void *p = NULL;
    size_t n = 0;
    int32_t st = futGoProduce((uintptr_t)user, &p, &n);
    if (st == FUT_OK) {
        item->arg = p;
        item->arg_len = n;
        *item_drop = p ? free : NULL;
    }
    return st;
}

static void fut_go_producer_drop(void *user) { futGoProducerDrop((uintptr_t)user); }

fut_status fut_go_imap(fut_executor *ex, fut_task_fn fn, uintptr_t h, size_t window, size_t chunksize,
                       uint32_t flags, fut_map **out)
{
    return fut_executor_imap(ex, fn, fut_go_produce, (void *)h, fut_go_producer_drop, window, chunksize,
                             flags, out);
}

fut_status fut_go_attach(fut_completion_queue *q, fut_future *f, uintptr_t id)
{
    return fut_completion_queue_attach(q, f, (void *)id);
}

uintptr_t fut_go_entry_id(const fut_completion *c, size_t i) { return (uintptr_t)c[i].user; }

fut_future *fut_go_entry_future(const fut_completion *c, size_t i) { return c[i].future; }

fut_status fut_go_set_result_bytes(fut_future *f, const void *p, size_t n)
{
    void *copy;
    fut_status st = copy_bytes(p, n, &copy);
    if (st != FUT_OK) return st;
    st = fut_future_set_result(f, copy, n, copy ? free : NULL);
    if (st != FUT_OK) free(copy);
    return st;
}

fut_status fut_go_task_set_result_bytes(fut_task *t, const void *p, size_t n)
{
    void *copy;
    fut_status st = copy_bytes(p, n, &copy);
    if (st != FUT_OK) return st;
    st = fut_task_set_result(t, copy, n, copy ? free : NULL);
    if (st != FUT_OK) free(copy);
    return st;
}

int fut_go_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }
