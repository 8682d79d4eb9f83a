/* d4kprobe: can the D4 kernel back end run here (d4_kern_probe: libbpf in
 * the build, CAP_BPF and CAP_NET_ADMIN, a kernel of 5.10 or later)? Exit
 * 0, or print the reason and exit 77, the lab tests' "skip". The lab tests
 * of the back end (tests/lab/d4_backend.sh, d4_wan_lan.sh kernel) run the
 * node itself; this only tells them whether there is anything to test. */
#include "d4/kernel.h"

#include <stdio.h>

int main(void)
{
	char why[256];

	if (d4_kern_probe(why, sizeof(why))) {
		printf("%s\n", why);
		return 77;
	}
	return 0;
}
