/* Thread pool under racing submit, cancel and shutdown from several threads
 * (E1, E3, E6, F4, T8): 1,000 rounds, each with a fresh pool of 1-4
 * workers, two submitting threads, one cancelling thread and one shutting
 * down; every accepted task runs or is cancelled, exactly once, and every
 * argument is dropped once. Each round is bounded by latch timeouts. */
#include "pool_test_util.h"

#include <sched.h>

/* Per task: whether it ran; its argument's drop counts in `stress_drops`. */
enum { STRESS_LOOPS = 1000, STRESS_PER_SUBMITTER = 24, STRESS_SUBMITTERS = 2 };
struct stress_slot {
    atomic_int ran;
    fut_future *_Atomic published; /* for the cancelling thread */
    fut_future *f;                  /* the submitter's reference, or NULL if refused */
    fut_status st;
    fut_executor *ex; /* set for the tasks that submit a child */
};
struct stress {
    fut_executor *ex;
    tu_barrier go;
    tu_latch shut;
    bool cancel_futures;
    struct stress_slot slots[STRESS_SUBMITTERS][STRESS_PER_SUBMITTER];
};
static atomic_long stress_drops;
static atomic_long stress_children;         /* ran */
static atomic_long stress_children_accepted; /* submitted from a worker */

static void stress_drop(void *p) {
    (void)p;
    atomic_fetch_add(&stress_drops, 1);
}

static int32_t stress_child(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)arg;
    (void)len;
    atomic_fetch_add(&stress_children, 1);
    return 0;
}

/* Marks its slot; every third task submits a child from the worker (to its
 * own deque) and lets it go: a refusal after shutdown is fine, a stranded
 * child would hang the joining shutdown. */
static int32_t stress_task(fut_task *t, const void *arg, size_t len) {
    (void)t;
    (void)len;
    struct stress_slot *slot = (struct stress_slot *)arg;
    if (atomic_fetch_add(&slot->ran, 1) != 0) return 90;
    fut_future *child;
    if (slot->ex && fut_executor_submit(slot->ex, stress_child, NULL, 0, NULL, &child) == FUT_OK) {
        atomic_fetch_add(&stress_children_accepted, 1);
        fut_future_release(child);
    }
    return 0;
}

struct stress_arg {
    struct stress *s;
    int which;
};

static void *stress_submitter(void *p) {
    struct stress_arg *a = p;
    struct stress *s = a->s;
    BARRIER_WAIT(&s->go);
    for (int i = 0; i < STRESS_PER_SUBMITTER; i++) {
        struct stress_slot *slot = &s->slots[a->which][i];
        fut_future *f = NULL;
        slot->ex = i % 3 == 0 ? s->ex : NULL;
        slot->st = fut_executor_submit(s->ex, stress_task, slot, 0, stress_drop, &f);
        if (slot->st == FUT_OK) {
            slot->f = f;
            atomic_store(&slot->published, f);
        }
    }
    return NULL;
}

static void *stress_canceller(void *p) {
    struct stress *s = p;
    BARRIER_WAIT(&s->go);
    for (int round = 0; round < 2; round++)
        for (int w = 0; w < STRESS_SUBMITTERS; w++)
            for (int i = round; i < STRESS_PER_SUBMITTER; i += 2) {
                fut_future *f = atomic_load(&s->slots[w][i].published);
                if (f) fut_future_cancel(f);
            }
    return NULL;
}

static void *stress_shutter(void *p) {
    struct stress *s = p;
    BARRIER_WAIT(&s->go);
    sched_yield();
    fut_status st = fut_executor_shutdown(s->ex, true, s->cancel_futures);
    if (st == FUT_OK) tu_latch_count_down(&s->shut);
    return NULL;
}

static void stress_check(struct stress *s, long *accepted) {
    for (int w = 0; w < STRESS_SUBMITTERS; w++)
        for (int i = 0; i < STRESS_PER_SUBMITTER; i++) {
            struct stress_slot *slot = &s->slots[w][i];
            if (slot->st != FUT_OK) {
                CHECK_ST(slot->st, FUT_ERR_SHUTDOWN); /* E1 */
                CHECK_EQ(atomic_load(&slot->ran), 0);
                continue;
            }
            (*accepted)++;
            /* T8/E3: after shutdown(wait) every accepted item ran or was cancelled. */
            CHECK(fut_future_done(slot->f));
            if (fut_future_cancelled(slot->f)) {
                CHECK_EQ(atomic_load(&slot->ran), 0);
            } else {
                CHECK_OK(fut_future_result(slot->f, 0, NULL, NULL));
                CHECK_EQ(atomic_load(&slot->ran), 1);
            }
            fut_future_release(slot->f);
        }
}

TEST(test_racing_submit_cancel_shutdown) {
    long accepted = 0;
    atomic_store(&stress_drops, 0);
    for (int loop = 0; loop < STRESS_LOOPS; loop++) {
        struct stress *s = calloc(1, sizeof *s);
        CHECK(s != NULL);
        s->ex = pool_named(1 + (size_t)(loop % 4), "stress");
        s->cancel_futures = loop % 2 == 1;
        atomic_store(&stress_children, 0);
        atomic_store(&stress_children_accepted, 0);
        tu_barrier_init(&s->go, STRESS_SUBMITTERS + 2);
        tu_latch_init(&s->shut, 1);
        pthread_t th[STRESS_SUBMITTERS + 2];
        struct stress_arg args[STRESS_SUBMITTERS];
        for (int w = 0; w < STRESS_SUBMITTERS; w++) {
            args[w] = (struct stress_arg){s, w};
            CHECK(pthread_create(&th[w], NULL, stress_submitter, &args[w]) == 0);
        }
        CHECK(pthread_create(&th[STRESS_SUBMITTERS], NULL, stress_canceller, s) == 0);
        CHECK(pthread_create(&th[STRESS_SUBMITTERS + 1], NULL, stress_shutter, s) == 0);
        LATCH_WAIT(&s->shut); /* a lost item or a stranded child hangs here: fails */
        for (int k = 0; k < STRESS_SUBMITTERS + 2; k++) pthread_join(th[k], NULL);
        /* E3: shutdown again (idempotent) joins anything started late. */
        CHECK_OK(fut_executor_shutdown(s->ex, true, false));
        stress_check(s, &accepted);
        /* T8: without cancel_futures every child accepted from a worker ran. */
        if (!s->cancel_futures)
            CHECK_EQ(atomic_load(&stress_children), atomic_load(&stress_children_accepted));
        fut_executor_release(s->ex);
        tu_barrier_destroy(&s->go);
        tu_latch_destroy(&s->shut);
        free(s);
    }
    /* Every accepted argument was dropped exactly once; refused ones never. */
    CHECK_EQ(atomic_load(&stress_drops), accepted);
}

int main(int argc, char **argv) { return tu_main(argc, argv); }
