#ifndef INTERLOCK_CLIBGIT2_SHIM_H
#define INTERLOCK_CLIBGIT2_SHIM_H
#include <git2.h>
#endif
