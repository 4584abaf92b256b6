#ifndef INTERLOCK_CLIBGIT2_SHIM_H
#define INTERLOCK_CLIBGIT2_SHIM_H
#include <git2.h>

/* git_libgit2_opts is variadic, which Swift cannot call: one typed wrapper per option Interlock sets. */
static inline int interlock_git_set_strict_hash_verification(int enabled) {
    return git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, enabled);
}
#endif
