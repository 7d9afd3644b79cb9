package pgexec

// PruneLockClass is the prune lock's first key, for tests that hold it.
const PruneLockClass = pruneLockClass
