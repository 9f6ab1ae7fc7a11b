/* strndup as POSIX defines it: at most n bytes of s, always NUL-terminated; NULL when out of memory. */
#include "tss2_mingw_compat.h"

#include <stdlib.h>
#include <string.h>

char *strndup(const char *s, size_t n) {
  size_t len = 0;
  while (len < n && s[len] != '\0') ++len;
  char *copy = malloc(len + 1);
  if (copy == NULL) return NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}
