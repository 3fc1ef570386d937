// The task observer's trampoline (flow_events.go): C calls it on a pool
// thread, it calls the exported Go function with the observer's id.
#include <stdint.h>

#include "futures.h"
#include "_cgo_export.h"

static void fut_go_task_event_tramp(const fut_task_event *ev, void *user)
{
    futGoTaskEvent((fut_task_event *)ev, (uintptr_t)user);
}

fut_task_event_fn fut_go_task_event_fn(void) { return fut_go_task_event_tramp; }

void *fut_go_observer_ptr(uintptr_t id) { return (void *)id; }
