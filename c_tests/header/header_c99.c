/* Built (not run) to prove that futures.h compiles as strict C99 with every warning on. */
#include <futures.h>

int fut_header_c99_probe(void);
int fut_header_c99_probe(void) {
    fut_error_info info = {FUT_OK, 0, 0, 0};
    fut_item item = {0, 0};
    return info.kind + (int)item.arg_len + FUT_VERSION_MAJOR;
}
