/* file_replace.c - see file_replace.h */
#include "runner/file_replace.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *tmp, int fd, struct probe_err *e, const char *what, const char *path)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	return err_set(e, ERR_CONFIG, "output", "cannot %s %s: %s", what, path, strerror(saved));
}

int file_replace_check(const char *path, struct probe_err *e)
{
	char tmp[4096];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return err_set(e, ERR_CONFIG, "output", "output path too long: %.100s...", path);
	if (unlink(tmp) < 0 && errno != ENOENT)
		return fail(NULL, -1, e, "remove", tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(NULL, -1, e, "create", tmp);
	close(fd);
	unlink(tmp);
	return 0;
}

int file_replace(const char *path, const char *data, size_t len, struct probe_err *e)
{
	char tmp[4096], dir[4096];
	size_t off = 0;
	int fd, dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		return err_set(e, ERR_CONFIG, "output", "output path too long: %.100s...", path);
	}
	/* A leftover PATH.tmp (a killed run, or a symlink someone planted) is
	 * removed, never written through: the new file is created afresh. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return fail(NULL, -1, e, "remove", tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(NULL, -1, e, "create", tmp);
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(tmp, fd, e, "write", tmp);
		off += (size_t)w;
	}
	if (fsync(fd) < 0)
		return fail(tmp, fd, e, "fsync", tmp);
	if (close(fd) < 0)
		return fail(tmp, -1, e, "close", tmp);
	if (rename(tmp, path) < 0)
		return fail(tmp, -1, e, "rename", tmp);
	/* the rename itself must reach the disk */
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
