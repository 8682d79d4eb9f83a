/* libFuzzer harness for the PTP management decoder (ptp/mgmt.c): whatever
 * arrives on ptp4l's UNIX socket, which may be a broken or hostile ptp4l.
 *
 * Beyond "no crash, no sanitizer report": a -EINVAL says why; a decoded
 * reply names a dataset we ask for (or is an error reply) and its port
 * state is one we know. */
#include "ptp/mgmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool known_dataset(uint16_t id)
{
	return id == MGMT_CURRENT_DATA_SET || id == MGMT_PARENT_DATA_SET ||
	       id == MGMT_TIME_PROPERTIES_DATA_SET ||
	       id == MGMT_PORT_DATA_SET || id == MGMT_TIME_STATUS_NP;
}

static void check_reply(const struct mgmt_reply *r)
{
	char id[24];

	if (r->error)
		return;
	if (!known_dataset(r->id))
		abort();
	if (r->id == MGMT_PORT_DATA_SET &&
	    !strcmp(ptp_port_state_name(r->u.port.state), "?"))
		abort();
	ptp_clock_id_str(r->src_clock_id, id, sizeof(id));
	if (strlen(id) != 23)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mgmt_reply r;
	char err[160];
	uint8_t *copy;
	int ret;

	/* a heap copy of exactly @size bytes: ASan sees any over-read */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	err[0] = '\0';
	ret = mgmt_decode(copy, size, &r, err, sizeof(err));
	if (ret == 0)
		check_reply(&r);
	else if (ret == -EINVAL && !err[0])
		abort();
	else if (ret != -EINVAL && ret != -ENOMSG)
		abort();
	free(copy);
	return 0;
}
