/* Privileges after start-up (privs.h). An unlimited RLIMIT_MEMLOCK
 * stands in for CAP_IPC_LOCK (memory is locked with MCL_FUTURE); the state
 * directory goes to the user; then the user, the capability sets and
 * no_new_privs, all through libcap, which libpsx makes apply to every
 * thread. A last look at /proc/self/task proves it did, or the node
 * refuses to run. Nothing after start-up sets a real-time policy (the
 * media and ALSA threads are made before), so CAP_SYS_NICE goes too. */
#include "node/privs.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR(code, ...)                                                         \
	do {                                                                   \
		snprintf(err, err_len, __VA_ARGS__);                           \
		return (code);                                                 \
	} while (0)

#define BIT(c) (UINT64_C(1) << (c))

/* What a spawned ptp4l needs: it inherits no more than the node's
 * permitted set (no_new_privs caps an exec at it), so these stay there,
 * never effective in the node itself. It runs as root (uid 0 owns
 * /dev/ptpN and /run, so no CAP_DAC_OVERRIDE). */
static const uint64_t ptp4l_caps =
    BIT(CAP_NET_ADMIN) |	/* SIOCSHWTSTAMP: hardware time stamps */
    BIT(CAP_NET_BIND_SERVICE) | /* UDP ports 319 and 320 */
    BIT(CAP_NET_RAW) |		/* network_transport L2 */
    BIT(CAP_SYS_TIME);		/* clock_adjtime: PHC or system clock */

/* What the D4 kernel back end needs to attach a loop at tc ingress and
 * take it out again (also at exit): permitted only, raised around those
 * calls by node/relay.c. */
static const uint64_t d4_kernel_caps = BIT(CAP_BPF) | BIT(CAP_NET_ADMIN);

/* d4node --keep-privileges (privs_keep_for_profiling). */
static bool keep_all;

struct target {
	bool change; /* become uid/gid (else stay as started) */
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
};

static int find_user(const char *user, struct target *t, char *err,
		     size_t err_len)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int n = 32, rc;

	rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (!res)
		ERR(rc ? -rc : -ENOENT, "[node] user = '%s': %s", user,
		    rc ? strerror(rc) : "no such user");
	t->uid = pw.pw_uid;
	t->gid = pw.pw_gid;
	if (geteuid() != 0) {
		if (getuid() == t->uid && geteuid() == t->uid)
			return 0; /* already that user */
		ERR(-EPERM,
		    "[node] user = '%s': the node runs as uid %u, not root, "
		    "and cannot become uid %u",
		    user, (unsigned int)geteuid(), (unsigned int)t->uid);
	}
	/* Its supplementary groups (audio for ALSA devices). */
	for (;;) {
		int want = n;

		free(t->groups);
		t->groups = calloc((size_t)n, sizeof(*t->groups));
		if (!t->groups)
			ERR(-ENOMEM, "out of memory");
		if (getgrouplist(user, t->gid, t->groups, &n) >= 0)
			break;
		if (n <= want)
			n = want * 2;
	}
	t->ngroups = n;
	t->change = true;
	return 0;
}

/* A /proc status file into @buf; false if it is gone (a thread that
 * ended) or unreadable. */
static bool read_status(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* The number after @key ("\nCapPrm:") in a status file, in @base. */
static bool status_field(const char *text, const char *key, int base,
			 uint64_t *out)
{
	const char *p = strstr(text, key);
	char *end;

	if (!p)
		return false;
	errno = 0;
	*out = strtoull(p + strlen(key), &end, base);
	return !errno && end != p + strlen(key);
}

/* Whether mlockall() took (not under AddressSanitizer, nor refused). */
static bool memory_locked(void)
{
	char text[4096];
	uint64_t kb;

	if (!read_status("/proc/self/status", text, sizeof(text)) ||
	    !status_field(text, "\nVmLck:", 10, &kb))
		return true; /* cannot tell: assume it did */
	return kb > 0;
}

/* Raise soft (and hard) limit @res to at least @want. */
static int raise_limit(int res, rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) < 0)
		return -errno;
	if (rl.rlim_cur == RLIM_INFINITY ||
	    (want != RLIM_INFINITY && rl.rlim_cur >= want))
		return 0;
	rl.rlim_cur = want;
	if (rl.rlim_max != RLIM_INFINITY &&
	    (want == RLIM_INFINITY || rl.rlim_max < want))
		rl.rlim_max = want;
	return setrlimit(res, &rl) < 0 ? -errno : 0;
}

/* A file root made at start (token, state.json, an SDP file) goes to
 * the user. Opened without following links and given away only as a
 * plain file with one link, so a name planted there cannot hand over a
 * file from elsewhere. 0 also when it is not such a file. */
static int give_file(int dfd, const char *name, uid_t uid, gid_t gid)
{
	struct stat st;
	int fd, rc = 0;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0; /* gone, a link, a socket: not ours */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	    st.st_uid == 0 && fchown(fd, uid, gid) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int give_files(int dfd, uid_t uid, gid_t gid)
{
	struct dirent *e;
	int fd, rc = 0;
	DIR *d;

	fd = dup(dfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while (!rc && (e = readdir(d)))
		if (e->d_name[0] != '.')
			rc = give_file(dfd, e->d_name, uid, gid);
	closedir(d);
	return rc;
}

/* The state directory, if it is the node's own (root's and private, as
 * node_api makes it) or already the user's; anything else is left as it
 * is and must be writable for the user (checked after the switch). */
static int give_state_dir(const char *dir, const struct target *t, char *err,
			  size_t err_len)
{
	struct stat st;
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		ERR(-errno, "state directory %s: %s", dir, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, err_len, "state directory %s: %s", dir,
			 strerror(errno));
		goto out_close;
	}
	if (st.st_uid == 0 && !(st.st_mode & 077) && t->uid != 0) {
		if (fchown(fd, t->uid, t->gid) < 0) {
			rc = -errno;
			snprintf(err, err_len, "chown %s to uid %u: %s", dir,
				 (unsigned int)t->uid, strerror(errno));
			goto out_close;
		}
		st.st_uid = t->uid;
	}
	if (st.st_uid == t->uid && t->uid != 0) {
		rc = give_files(fd, t->uid, t->gid);
		if (rc < 0)
			snprintf(err, err_len,
				 "state directory %s: cannot "
				 "give its files to uid %u: %s",
				 dir, (unsigned int)t->uid, strerror(-rc));
	}
out_close:
	close(fd);
	return rc;
}

static bool has_cap(cap_t c, cap_value_t v, cap_flag_t flag)
{
	cap_flag_value_t set = CAP_CLEAR;

	return cap_get_flag(c, v, flag, &set) == 0 && set == CAP_SET;
}

/* Leave the process with exactly @keep_p permitted and @keep_e effective,
 * the bounding set cut to @keep_p when we may (CAP_SETPCAP), no ambient
 * or inheritable capabilities, as @t's user. */
static int set_caps(const struct target *t, uint64_t keep_p, uint64_t keep_e,
		    bool *bound_cut, char *err, size_t err_len)
{
	cap_value_t v, max = (cap_value_t)cap_max_bits();
	cap_t now = cap_get_proc(), c;
	int rc = 0;

	if (!now)
		ERR(-errno, "cap_get_proc: %s", strerror(errno));
	*bound_cut = has_cap(now, CAP_SETPCAP, CAP_EFFECTIVE);
	cap_free(now);
	for (v = 0; *bound_cut && v < max; v++)
		if (!(keep_p & BIT(v)) && cap_get_bound(v) > 0 &&
		    cap_drop_bound(v) < 0)
			ERR(-errno, "cap_drop_bound(%d): %s", (int)v,
			    strerror(errno));
	if (cap_reset_ambient() < 0 && errno != EINVAL && errno != ENOSYS)
		ERR(-errno, "cap_reset_ambient: %s", strerror(errno));
	if (t->change) {
		/* cap_setgroups and cap_setuid keep the permitted set (the
		 * kernel would clear it) for the step below to cut. */
		if (cap_setgroups(t->gid, (size_t)t->ngroups, t->groups) < 0)
			ERR(-errno, "setgroups/setgid(%u): %s",
			    (unsigned int)t->gid, strerror(errno));
		if (cap_setuid(t->uid) < 0)
			ERR(-errno, "setuid(%u): %s", (unsigned int)t->uid,
			    strerror(errno));
	}
	c = cap_init();
	if (!c)
		ERR(-ENOMEM, "out of memory");
	for (v = 0; v < max && v < 64; v++) {
		if (keep_p & BIT(v))
			cap_set_flag(c, CAP_PERMITTED, 1, &v, CAP_SET);
		if (keep_e & BIT(v))
			cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_SET);
	}
	if (cap_set_proc(c) < 0) {
		rc = -errno;
		snprintf(err, err_len, "cap_set_proc: %s", strerror(errno));
	}
	cap_free(c);
	if (!rc && cap_prctlw(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(err, err_len, "PR_SET_NO_NEW_PRIVS: %s",
			 strerror(errno));
	}
	return rc;
}

/* Every thread, the media thread first among them, must show what was
 * set: capabilities are per thread, and only libpsx carries a change to
 * the threads that already run. */
static int check_threads(const struct target *t, uint64_t keep_p,
			 uint64_t keep_e, bool bound_cut, char *err,
			 size_t err_len)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	int rc = 0;

	if (!d) {
		log_warn("privileges: /proc/self/task: %m; threads unchecked");
		return 0;
	}
	while (!rc && (e = readdir(d))) {
		char path[300], text[4096];
		uint64_t prm, eff, bnd, nnp, uid;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
			 e->d_name);
		if (!read_status(path, text, sizeof(text)))
			continue;
		if (!status_field(text, "\nCapPrm:", 16, &prm) ||
		    !status_field(text, "\nCapEff:", 16, &eff) ||
		    !status_field(text, "\nCapBnd:", 16, &bnd) ||
		    !status_field(text, "\nNoNewPrivs:", 10, &nnp) ||
		    !status_field(text, "\nUid:", 10, &uid)) {
			snprintf(err, err_len, "%s: unreadable", path);
			rc = -EIO;
		} else if (prm != keep_p || eff != keep_e || nnp != 1 ||
			   (bound_cut && bnd != keep_p) ||
			   (t->change && uid != t->uid)) {
			snprintf(err, err_len,
				 "thread %s kept privileges (uid %" PRIu64
				 ", CapPrm %" PRIx64 ", CapEff %" PRIx64
				 ", CapBnd %" PRIx64 ", NoNewPrivs %" PRIu64
				 "); is d4node linked with libpsx?",
				 e->d_name, uid, prm, eff, bnd, nnp);
			rc = -EPERM;
		}
	}
	closedir(d);
	return rc;
}

/* Append "cap_a,cap_b (@why)" for @caps to @buf. */
static void caps_text(uint64_t caps, const char *why, char *buf, size_t len)
{
	size_t n = strlen(buf);
	const char *sep = n ? ", " : "";
	cap_value_t v;

	if (!caps)
		return;
	for (v = 0; v < 64 && n < len; v++) {
		char *name;

		if (!(caps & BIT(v)))
			continue;
		name = cap_to_name(v);
		n += (size_t)snprintf(buf + n, len - n, "%s%s", sep,
				      name ? name : "?");
		cap_free(name);
		sep = ",";
	}
	if (n < len)
		snprintf(buf + n, len - n, " (%s)", why);
}

void privs_keep_for_profiling(void)
{
	keep_all = true;
}

int privs_drop(const struct privs_opts *o, char *err, size_t err_len)
{
	struct target t = {.uid = geteuid(), .gid = getegid()};
	uint64_t keep_p = 0, keep_e = 0;
	char kept[320] = "";
	bool bound_cut = false;
	cap_t now;
	size_t i;
	int rc;

	if (keep_all) {
		log_warn("privileges: kept as started (--keep-privileges, "
			 "for profiling): uid=%u, capabilities and the "
			 "bounding set unchanged, no no_new_privs",
			 (unsigned int)geteuid());
		return 0;
	}
	if (o->user && *o->user) {
		rc = find_user(o->user, &t, err, err_len);
		if (rc < 0)
			goto out_free;
	}
	now = cap_get_proc();
	if (!now) {
		rc = -errno;
		snprintf(err, err_len, "cap_get_proc: %s", strerror(errno));
		goto out_free;
	}
	/* mlockall(MCL_FUTURE) charges every later mapping to
	 * RLIMIT_MEMLOCK once CAP_IPC_LOCK is gone: without an unlimited
	 * limit, the first allocation after the drop would fail. Root
	 * without CAP_SYS_RESOURCE (a container) cannot raise it. */
	if (memory_locked() && raise_limit(RLIMIT_MEMLOCK, RLIM_INFINITY) < 0 &&
	    has_cap(now, CAP_IPC_LOCK, CAP_PERMITTED)) {
		keep_p |= BIT(CAP_IPC_LOCK);
	}
	keep_e = keep_p;
	if (o->ptp4l || o->d4_kernel) {
		uint64_t want = (o->ptp4l ? ptp4l_caps : 0) |
				(o->d4_kernel ? d4_kernel_caps : 0);
		cap_value_t v;

		for (v = 0; v < 64; v++)
			if ((want & BIT(v)) && has_cap(now, v, CAP_PERMITTED))
				keep_p |= BIT(v);
	}
	cap_free(now);
	if (t.change && o->state_dir && *o->state_dir) {
		rc = give_state_dir(o->state_dir, &t, err, err_len);
		if (rc < 0)
			goto out_free;
	}
	for (i = 0; t.change && t.uid != 0 && i < o->nfiles; i++) {
		rc = give_file(AT_FDCWD, o->files[i], t.uid, t.gid);
		if (rc < 0) {
			snprintf(err, err_len, "chown %s to uid %u: %s",
				 o->files[i], (unsigned int)t.uid,
				 strerror(-rc));
			goto out_free;
		}
	}
	rc = set_caps(&t, keep_p, keep_e, &bound_cut, err, err_len);
	if (rc < 0)
		goto out_free;
	if (t.change && t.uid != 0 && setuid(0) == 0) {
		rc = -EPERM;
		snprintf(err, err_len, "setuid(0) still works after the drop");
		goto out_free;
	}
	if (o->state_dir && *o->state_dir &&
	    faccessat(AT_FDCWD, o->state_dir, R_OK | W_OK | X_OK, AT_EACCESS) <
		0) {
		rc = -errno;
		snprintf(err, err_len,
			 "state directory %s is not writable as uid %u: %s "
			 "(it must be the user's, its parents searchable)",
			 o->state_dir, (unsigned int)geteuid(),
			 strerror(errno));
		goto out_free;
	}
	rc = check_threads(&t, keep_p, keep_e, bound_cut, err, err_len);
	if (rc < 0)
		goto out_free;
	caps_text(keep_e, "RLIMIT_MEMLOCK cannot be unlimited", kept,
		  sizeof(kept));
	caps_text(keep_p & ~keep_e,
		  o->ptp4l && o->d4_kernel ? "permitted only, for ptp4l and "
					     "the D4 kernel back end"
		  : o->ptp4l		   ? "permitted only, for ptp4l"
					   : "permitted only, for the D4 "
					     "kernel back end",
		  kept, sizeof(kept));
	if (!bound_cut)
		log_info("privileges: no CAP_SETPCAP: the bounding set stays "
			 "as inherited");
	log_info("privileges: running as uid=%u gid=%u, capabilities kept: "
		 "%s; no_new_privs set",
		 (unsigned int)geteuid(), (unsigned int)getegid(),
		 kept[0] ? kept : "none");
out_free:
	free(t.groups);
	return rc;
}
