/* POSIX functions tpm2-tss uses that mingw-w64's C runtime (msvcrt) lacks; forced into every tpm2-tss
 * file with -include. Definitions in tss2_mingw_compat.c. */
#pragma once
#include <stddef.h>

char *strndup(const char *s, size_t n);
