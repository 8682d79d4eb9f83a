/* A planted undefined behaviour: in a build with UBSan, running this must
 * fail (meson.build makes UBSan abort), or a sanitizer's finding in a real
 * test would pass unseen. Only built and run with b_sanitize=...undefined. */
#include <limits.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	volatile int x = INT_MAX;

	x += argc; /* signed overflow */
	printf("UBSan let a signed overflow by: %d\n", x);
	(void)argv;
	return 0;
}
