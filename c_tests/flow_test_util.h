/* Helpers shared by the flow-control tests (Q1-Q12): reading an executor's
 * stats, the invariant every read must satisfy, and polling the stats for a
 * state under a deadline (a bug fails instead of hanging). */
#ifndef FLOW_TEST_UTIL_H
#define FLOW_TEST_UTIL_H

#include "test_util.h"

#include <futures.h>
#include <sched.h>
#include <string.h>

static inline fut_stats stats_of(fut_executor *ex) {
    fut_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    CHECK_OK(fut_executor_stats(ex, &s));
    return s;
}

/* (Q5) completed + failed + cancelled + running + queued == submitted. */
static inline void check_adds_up(const fut_stats *s) {
    CHECK_EQ(s->completed + s->failed + s->cancelled + s->running + s->queued, s->submitted);
}

/* Polls until `cond` (over the stats `s`) holds, at most TU_LONG_TIMEOUT_NS. */
#define WAIT_STATS(ex, s, cond)                                                          \
    do {                                                                                 \
        int64_t dl_ = tu_now_ns() + TU_LONG_TIMEOUT_NS;                                  \
        for (;;) {                                                                       \
            s = stats_of(ex);                                                            \
            if (cond) break;                                                             \
            CHECK_MSG(tu_now_ns() < dl_, "timed out waiting for %s (running %llu queued %llu)", \
                      #cond, (unsigned long long)s.running, (unsigned long long)s.queued); \
            sched_yield();                                                               \
        }                                                                                \
    } while (0)

#endif
