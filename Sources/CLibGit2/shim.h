#ifndef INTERLOCK_CLIBGIT2_SHIM_H
#define INTERLOCK_CLIBGIT2_SHIM_H
#include <git2.h>

/* git_libgit2_opts is variadic, which Swift cannot call: one typed wrapper per option Interlock sets. */
static inline int interlock_git_set_cache_object_limit(git_object_t type, size_t bytes) {
    return git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, type, bytes);
}
#endif
