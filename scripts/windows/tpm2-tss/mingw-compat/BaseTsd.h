/* tpm2-tss includes <BaseTsd.h> (MSVC's capitals); mingw-w64 names it <basetsd.h>. */
#pragma once
#include <basetsd.h>
