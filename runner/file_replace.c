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

int file_replace_open(struct file_replace *f, const char *path, struct probe_err *e)
{
	f->fd = -1;
	f->path = path;
	if (snprintf(f->tmp, sizeof(f->tmp), "%s.tmp", path) >= (int)sizeof(f->tmp))
		return err_set(e, ERR_CONFIG, "output", "output path too long: %.100s...", path);
	/* A leftover PATH.tmp (a killed run, or a symlink someone planted) is
	 * removed, never written through: the new file is created afresh. */
	if (unlink(f->tmp) < 0 && errno != ENOENT)
		return fail(NULL, -1, e, "remove", f->tmp);
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f->fd < 0)
		return fail(NULL, -1, e, "create", f->tmp);
	return 0;
}

int file_replace_write(struct file_replace *f, const char *data, size_t len, struct probe_err *e)
{
	size_t off = 0;

	if (f->fd < 0)
		return err_set(e, ERR_CONFIG, "output", "cannot write %s: not open", f->tmp);
	while (off < len) {
		ssize_t w = write(f->fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int rc = fail(f->tmp, f->fd, e, "write", f->tmp);

			f->fd = -1;
			return rc;
		}
		off += (size_t)w;
	}
	return 0;
}

int file_replace_commit(struct file_replace *f, struct probe_err *e)
{
	char dir[4096];
	int fd = f->fd, dfd;

	if (fd < 0)
		return err_set(e, ERR_CONFIG, "output", "cannot write %s: not open", f->tmp);
	f->fd = -1;
	if (fsync(fd) < 0)
		return fail(f->tmp, fd, e, "fsync", f->tmp);
	if (close(fd) < 0)
		return fail(f->tmp, -1, e, "close", f->tmp);
	if (rename(f->tmp, f->path) < 0)
		return fail(f->tmp, -1, e, "rename", f->tmp);
	/* the rename itself must reach the disk */
	snprintf(dir, sizeof(dir), "%s", f->path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

void file_replace_abort(struct file_replace *f)
{
	if (f->fd < 0)
		return;
	close(f->fd);
	unlink(f->tmp);
	f->fd = -1;
}

int file_replace(const char *path, const char *data, size_t len, struct probe_err *e)
{
	struct file_replace f;

	if (file_replace_open(&f, path, e) < 0 || file_replace_write(&f, data, len, e) < 0)
		return -1;
	return file_replace_commit(&f, e);
}
