/* d4ctl: the controller CLI; everything is in libd4ctl (d4ctl.c). */
#include "controller-cli/d4ctl.h"

int main(int argc, char *argv[])
{
	return d4ctl_main(argc, argv);
}
