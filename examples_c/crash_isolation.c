/* crash_isolation: run a crash-prone "legacy parser" in worker processes.
 *
 * The parser below segfaults on inputs that contain the marker "@@" (think of
 * an old codec or vendor library with a known bug you cannot fix). Each input
 * is parsed through a process pool with FUT_CRASH_FAIL_TASK: an input that
 * crashes its worker fails with FUT_ERR_WORKER_DIED (the signal is in the
 * error's detail), the worker is replaced, and every other input is parsed
 * normally. The program reports which inputs crashed and exits 0.
 */
#include <futures.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The "legacy parser": counts words, and crashes on the marker. */
static int legacy_parse(const char *text, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] == '@' && text[i + 1] == '@') {
            raise(SIGSEGV); /* what the real bug does, without relying on UB */
            return -1;
        }
    }
    int words = 0, in_word = 0;
    for (size_t i = 0; i < len; i++) {
        int space = text[i] == ' ' || text[i] == '\0';
        if (!space && !in_word) words++;
        in_word = !space;
    }
    return words;
}

/* The task: parse the argument, return the word count as an int32. */
static int32_t parse_task(fut_task *task, const void *arg, size_t len) {
    int32_t *words = malloc(sizeof *words);
    if (words == NULL) return 12;
    *words = legacy_parse(arg, len);
    fut_task_set_result(task, words, sizeof *words, free);
    return 0;
}

static void quiet_log(const char *message, void *user) {
    (void)message;
    (void)user; /* the pool logs each replaced worker; this example reports itself */
}

int main(void) {
    const char *inputs[] = {
        "the quick brown fox",
        "jumps over @@ the lazy dog", /* crashes the parser */
        "hello world",
        "@@",                         /* crashes the parser */
        "one two three four five",
        "a",
    };
    enum { N = sizeof inputs / sizeof inputs[0] };
    fut_set_log_hook(quiet_log, NULL);

    fut_process_pool_options opts;
    fut_process_pool_options_init(&opts);
    opts.max_workers = 2;
    opts.on_worker_crash = FUT_CRASH_FAIL_TASK;
    opts.task_time_limit_ns = 10LL * 1000000000; /* a hung parse would fail too */
    fut_executor *pool;
    fut_status st = fut_process_pool_new(&opts, &pool);
    if (st != FUT_OK) {
        fprintf(stderr, "cannot create the pool: %s\n", fut_status_str(st));
        return 1;
    }

    fut_item items[N];
    for (int i = 0; i < N; i++) {
        items[i].arg = inputs[i];
        items[i].arg_len = strlen(inputs[i]) + 1;
    }
    fut_map *results;
    st = fut_executor_map(pool, parse_task, items, N, 60LL * 1000000000, 1, &results);
    if (st != FUT_OK) {
        fprintf(stderr, "map failed: %s\n", fut_status_str(st));
        return 1;
    }

    int parsed = 0, crashed = 0, other = 0;
    for (int i = 0; i < N; i++) {
        fut_future *f;
        if (fut_map_next(results, &f) != FUT_OK) {
            fprintf(stderr, "map stopped early\n");
            return 1;
        }
        void *value;
        st = fut_future_result(f, 0, &value, NULL);
        if (st == FUT_OK) {
            printf("input %d (\"%s\"): %d words\n", i, inputs[i], *(int32_t *)value);
            parsed++;
        } else {
            fut_error_info err;
            fut_future_exception(f, 0, &err);
            printf("input %d (\"%s\"): %s: %s [%s]\n", i, inputs[i], fut_status_str(st),
                   err.message, err.detail ? err.detail : "");
            if (st == FUT_ERR_WORKER_DIED && err.detail && strstr(err.detail, "SIGSEGV"))
                crashed++;
            else
                other++;
        }
        fut_future_release(f);
    }
    fut_map_release(results);
    fut_executor_release(pool); /* shutdown(wait=true): workers stopped and reaped */
    fut_set_log_hook(NULL, NULL);

    printf("%d parsed, %d crashed the parser (isolated), %d other failures\n", parsed, crashed,
           other);
    return (parsed == 4 && crashed == 2 && other == 0) ? 0 : 1;
}
