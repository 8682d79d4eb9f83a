/* An experiment for bench/scale.sh, not part of the node: preloaded
 * (LD_PRELOAD), it adds MCL_ONFAULT to the node's mlockall(), so that
 * pages are locked as they are first touched rather than all mapped
 * pages at once (shared libraries whole, the heap's reserve). Peak RSS
 * with and without it, in the same run, is what docs/performance.md
 * reports; the node itself would pass the flag (node/node.c). */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int mlockall(int flags)
{
	return (int)syscall(SYS_mlockall, flags | MCL_ONFAULT);
}
