/* file_replace.h - replace a file so that readers see the old or the new
 * contents, never a mix, an empty or a partial file. */
#ifndef MTAPROBE_FILE_REPLACE_H
#define MTAPROBE_FILE_REPLACE_H

#include <stddef.h>

#include "lib/err.h"

/* Write data to PATH.tmp in the same directory, fsync it, rename it over
 * path, fsync the directory.  On any failure PATH.tmp is removed, path is
 * left as it was, and -1 is returned with e (ERR_CONFIG, step "output"). */
int file_replace(const char *path, const char *data, size_t len, struct probe_err *e);

/* The same in steps, for contents written as they are made: open
 * PATH.tmp, write to it, then commit (fsync, rename, fsync the directory)
 * or abort (remove it).  Each returns 0, or -1 with e, PATH.tmp removed
 * and f closed (abort is then a no-op). */
struct file_replace {
	int fd;
	const char *path;
	char tmp[4096];
};
int file_replace_open(struct file_replace *f, const char *path, struct probe_err *e);
int file_replace_write(struct file_replace *f, const char *data, size_t len, struct probe_err *e);
int file_replace_commit(struct file_replace *f, struct probe_err *e);
void file_replace_abort(struct file_replace *f);

/* Can file_replace(path) work?  Creates PATH.tmp as it would, and removes
 * it again (a leftover one too), before anything is run: a run of many
 * checks must not find out at its end that it cannot write.  0, or -1
 * with e as file_replace() says it. */
int file_replace_check(const char *path, struct probe_err *e);

#endif
