/* file_replace.c - see file_replace.h */
#include "runner/file_replace.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *tmp, int fd, char *err, size_t n, const char *what, const char *path)
{
	int e = errno;

	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	snprintf(err, n, "cannot %s %s: %s", what, path, strerror(e));
	return -1;
}

int file_replace(const char *path, const char *data, size_t len, char *err, size_t err_size)
{
	char tmp[4096], dir[4096];
	size_t off = 0;
	int fd, dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, err_size, "output path too long");
		return -1;
	}
	/* A leftover PATH.tmp (a killed run, or a symlink someone planted) is
	 * removed, never written through: the new file is created afresh. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return fail(NULL, -1, err, err_size, "remove", tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(NULL, -1, err, err_size, "create", tmp);
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(tmp, fd, err, err_size, "write", tmp);
		off += (size_t)w;
	}
	if (fsync(fd) < 0)
		return fail(tmp, fd, err, err_size, "fsync", tmp);
	if (close(fd) < 0)
		return fail(tmp, -1, err, err_size, "close", tmp);
	if (rename(tmp, path) < 0)
		return fail(tmp, -1, err, err_size, "rename", tmp);
	/* the rename itself must reach the disk */
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
