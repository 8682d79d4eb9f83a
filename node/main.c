/* d4node: run a d4 audio-over-IP node from an INI file. */
#include "common/log.h"
#include "node/node.h"
#include "node/privs.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: d4node --config FILE [--verbose] [--run-seconds S]\n"
		"              [--debug] [--keep-privileges]\n"
		"\n"
		"Run a d4 AES67 audio-over-IP node.\n"
		"\n"
		"  -c, --config FILE      INI configuration (docs/config.md)\n"
		"  -v, --verbose          print status every status_interval\n"
		"      --run-seconds S    stop by itself after S seconds\n"
		"      --debug            log debug messages\n"
		"      --keep-privileges  do not drop privileges after start-up\n"
		"                         (profiling under valgrind only)\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"run-seconds", required_argument, NULL, 'r'},
	    {"debug", no_argument, NULL, 'd'},
	    {"keep-privileges", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	struct node_opts opts = {0};
	char *end;
	int c;

	log_set_ident("d4node");
	log_set_journal(-1); /* before any thread: "<3>" prefixes for journald */
	while ((c = getopt_long(argc, argv, "c:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 'v':
			opts.verbose = true;
			break;
		case 'r':
			opts.run_seconds = strtod(optarg, &end);
			if (*end || opts.run_seconds <= 0) {
				fprintf(stderr,
					"d4node: --run-seconds: '%s' is not a "
					"positive number\n",
					optarg);
				return 2;
			}
			break;
		case 'd':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'k':
			privs_keep_for_profiling();
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("d4node %s\n", D4_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!opts.config_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	return node_run(&opts);
}
