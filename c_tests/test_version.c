/* The header's version macros describe the library it is linked with:
 * fut_version() == "FUT_VERSION_MAJOR.FUT_VERSION_MINOR.FUT_VERSION_PATCH".
 * scripts/check_version.sh checks Cargo.toml and CMakeLists.txt against the
 * header (ctest: versions_agree). */
#include <futures.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", FUT_VERSION_MAJOR, FUT_VERSION_MINOR,
             FUT_VERSION_PATCH);
    const char *got = fut_version();
    if (got == NULL || strcmp(got, expected) != 0) {
        fprintf(stderr, "fut_version() is \"%s\", the header says \"%s\"\n", got ? got : "(null)",
                expected);
        return 1;
    }
    printf("ok: fut_version() == %s\n", got);
    return 0;
}
