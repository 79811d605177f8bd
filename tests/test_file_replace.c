/* test_file_replace.c - replacing the runner's output file: readers see the
 * old or the new contents, and a failure leaves the old file, no PATH.tmp,
 * no open descriptor, and a reason naming the file.
 *
 * The tests run as root, so permission bits cannot make anything fail; the
 * failures here are ones root gets too: a missing or non-directory parent,
 * a directory in the way, names too long, and a file size limit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "runner/file_replace.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* One fresh directory per test (the cmocka state). */
struct fx {
	char dir[PATH_MAX];
};

/* file_replace with the message copied into err, as the tests read it. */
static int replace(const char *path, const char *data, size_t len, char *err, size_t err_size)
{
	struct probe_err e = { 0 };
	int rc = file_replace(path, data, len, &e);

	if (rc < 0)
		snprintf(err, err_size, "%s", e.msg);
	return rc;
}

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	if (base == NULL || *base == '\0')
		base = "/tmp";
	snprintf(fx->dir, sizeof(fx->dir), "%s/test_file_replace.XXXXXX", base);
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	int rc = nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	free(fx);
	return rc;
}

static void path_in(const struct fx *fx, char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", fx->dir, name);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* The whole file, malloc'd (NUL-terminated for convenience); NULL if absent. */
static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	assert_non_null(buf);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		r = read(fd, buf + n, cap - n);
		assert_true(r >= 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void assert_contents(const char *path, const char *want, size_t want_len)
{
	size_t len = 0;
	char *got = read_file(path, &len);

	bool same;

	if (got == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	same = len == want_len && memcmp(got, want, len) == 0;
	free(got); /* before failing: fail_msg() does not return */
	if (!same)
		fail_msg("%s: %zu bytes, not the %zu expected", path, len, want_len);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Nothing, not even a dangling symlink, at PATH.tmp. */
static void assert_no_tmp(const char *path)
{
	char tmp[PATH_MAX + 8];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (exists(tmp))
		fail_msg("%s left behind", tmp);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void test_replaces_existing(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], err[256] = "";
	static const char data[] = "mtaprobe_up{host=\"mx\"} 1\n";
	int fds = count_fds();

	path_in(fx, path, sizeof(path), "out.prom");
	write_file(path, "old contents, longer than the new ones\n", 39);
	assert_int_equal(replace(path, data, sizeof(data) - 1, err, sizeof(err)), 0);
	assert_contents(path, data, sizeof(data) - 1);
	assert_no_tmp(path);
	assert_int_equal(count_fds(), fds);
}

/* In steps: nothing is seen at path before the commit; abort leaves the
 * old file and no PATH.tmp. */
static void test_steps(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX];
	struct file_replace f;
	struct probe_err e = { 0 };
	int fds = count_fds();

	path_in(fx, path, sizeof(path), "steps.prom");
	write_file(path, "old\n", 4);
	assert_int_equal(file_replace_open(&f, path, &e), 0);
	assert_int_equal(file_replace_write(&f, "a 1\n", 4, &e), 0);
	assert_contents(path, "old\n", 4);
	assert_int_equal(file_replace_write(&f, "b 2\n", 4, &e), 0);
	assert_int_equal(file_replace_commit(&f, &e), 0);
	assert_contents(path, "a 1\nb 2\n", 8);
	assert_no_tmp(path);
	file_replace_abort(&f); /* after a commit: nothing */

	assert_int_equal(file_replace_open(&f, path, &e), 0);
	assert_int_equal(file_replace_write(&f, "new\n", 4, &e), 0);
	file_replace_abort(&f);
	assert_contents(path, "a 1\nb 2\n", 8);
	assert_no_tmp(path);
	assert_int_equal(count_fds(), fds);
}

static void test_creates_new(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], err[256] = "";
	struct stat st;

	path_in(fx, path, sizeof(path), "new.json");
	assert_false(exists(path));
	assert_int_equal(replace(path, "{}\n", 3, err, sizeof(err)), 0);
	assert_contents(path, "{}\n", 3);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_no_tmp(path);
}

/* Empty output (nothing configured to check) is a valid, empty file. */
static void test_zero_length(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], err[256] = "";

	path_in(fx, path, sizeof(path), "out.prom");
	write_file(path, "old\n", 4);
	assert_int_equal(replace(path, "", 0, err, sizeof(err)), 0);
	assert_contents(path, "", 0);
	assert_no_tmp(path);
	/* and from empty to something again */
	assert_int_equal(replace(path, "x\n", 2, err, sizeof(err)), 0);
	assert_contents(path, "x\n", 2);
}

/* len is the length: NUL bytes are data, and large data is written whole
 * (write() may take it in several pieces). */
static void test_binary_and_large(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], err[256] = "";
	size_t len = 3 * 1024 * 1024 + 7;
	char *data = malloc(len);

	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i * 131 % 251); /* includes NUL bytes */
	path_in(fx, path, sizeof(path), "big");
	assert_int_equal(replace(path, data, len, err, sizeof(err)), 0);
	assert_contents(path, data, len);
	assert_int_equal(replace(path, "a\0b", 3, err, sizeof(err)), 0);
	assert_contents(path, "a\0b", 3);
	assert_no_tmp(path);
	free(data);
}

/* The replacement is a new file renamed over the old one, not the old one
 * rewritten: a reader that opened it before still reads the old contents. */
static void test_reader_keeps_old(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], err[256] = "", buf[64];
	struct stat before, after;
	int fd;
	ssize_t n;

	path_in(fx, path, sizeof(path), "out.prom");
	write_file(path, "old\n", 4);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &before), 0);
	assert_int_equal(replace(path, "new\n", 4, err, sizeof(err)), 0);
	n = read(fd, buf, sizeof(buf));
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "old\n", 4);
	close(fd);
	assert_int_equal(stat(path, &after), 0);
	assert_true(before.st_ino != after.st_ino);
	assert_contents(path, "new\n", 4);
}

/* A PATH.tmp left by a run that was killed is overwritten, not appended to. */
static void test_stale_tmp(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], tmp[PATH_MAX + 8], err[256] = "";

	path_in(fx, path, sizeof(path), "out.prom");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	write_file(path, "old\n", 4);
	write_file(tmp, "half-written junk from a killed run, longer than new\n", 53);
	assert_int_equal(replace(path, "new\n", 4, err, sizeof(err)), 0);
	assert_contents(path, "new\n", 4);
	assert_no_tmp(path);
}

/* A path without a directory part is in the working directory ("." is what
 * gets fsync'd). */
static void test_relative_path(void **state)
{
	struct fx *fx = *state;
	char err[256] = "", path[PATH_MAX];
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	assert_true(cwd >= 0);
	assert_int_equal(chdir(fx->dir), 0);
	rc = replace("rel.prom", "r\n", 2, err, sizeof(err));
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
	assert_int_equal(rc, 0);
	path_in(fx, path, sizeof(path), "rel.prom");
	assert_contents(path, "r\n", 2);
	assert_no_tmp(path);
}

/* A symlink someone left at PATH.tmp must not redirect the write: the
 * file it points to is not ours to truncate. */
static void test_tmp_symlink_not_followed(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], tmp[PATH_MAX + 8], victim[PATH_MAX], err[256] = "";

	path_in(fx, path, sizeof(path), "out.prom");
	path_in(fx, victim, sizeof(victim), "victim");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	write_file(path, "old\n", 4);
	write_file(victim, "precious\n", 9);
	assert_int_equal(symlink(victim, tmp), 0);
	(void)replace(path, "new\n", 4, err, sizeof(err));
	assert_contents(victim, "precious\n", 9);
}

/* Failures.  Each case builds its scene in the fixture directory and names
 * the path to replace and an object whose contents must survive. */
struct scene {
	const char *what;
	void (*make)(const struct fx *fx, char *path, size_t n);
	const char *keep; /* a file (relative to the fixture) that must keep "old\n" */
};

static void make_missing_parent(const struct fx *fx, char *path, size_t n)
{
	path_in(fx, path, n, "no-such-dir/out.prom");
}

static void make_parent_is_file(const struct fx *fx, char *path, size_t n)
{
	char f[PATH_MAX];

	path_in(fx, f, sizeof(f), "file");
	write_file(f, "old\n", 4);
	path_in(fx, path, n, "file/out.prom");
}

/* Everything up to the rename works; the rename over a directory fails. */
static void make_path_is_dir(const struct fx *fx, char *path, size_t n)
{
	char f[PATH_MAX];

	path_in(fx, path, n, "out.prom");
	assert_int_equal(mkdir(path, 0755), 0);
	path_in(fx, f, sizeof(f), "out.prom/file");
	write_file(f, "old\n", 4);
}

static void make_tmp_is_dir(const struct fx *fx, char *path, size_t n)
{
	char d[PATH_MAX];

	path_in(fx, path, n, "out.prom");
	write_file(path, "old\n", 4);
	path_in(fx, d, sizeof(d), "out.prom.tmp");
	assert_int_equal(mkdir(d, 0755), 0);
}

/* path itself is NAME_MAX long (and exists); PATH.tmp is 4 bytes too long. */
static void make_name_max(const struct fx *fx, char *path, size_t n)
{
	char name[NAME_MAX + 1];

	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = '\0';
	path_in(fx, path, n, name);
	write_file(path, "old\n", 4);
}

static void make_name_too_long(const struct fx *fx, char *path, size_t n)
{
	char name[NAME_MAX + 2];

	memset(name, 'm', NAME_MAX + 1);
	name[NAME_MAX + 1] = '\0';
	path_in(fx, path, n, name);
}

static const struct scene scenes[] = {
	{ "parent does not exist", make_missing_parent, NULL },
	{ "parent is a regular file", make_parent_is_file, "file" },
	{ "path is a directory", make_path_is_dir, "out.prom/file" },
	{ "PATH.tmp is a directory", make_tmp_is_dir, "out.prom" },
	{ "PATH.tmp longer than NAME_MAX", make_name_max, NULL },
	{ "name longer than NAME_MAX", make_name_too_long, NULL },
};

static void test_failures(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < N(scenes); i++) {
		char path[PATH_MAX], keep[PATH_MAX], tmp[PATH_MAX + 8], err[512] = "";
		struct stat st_before, st_after;
		bool had_path, had_tmp;
		int fds, rc;

		/* each scene in its own subdirectory so they cannot interfere */
		struct fx sub;

		snprintf(sub.dir, sizeof(sub.dir), "%s/%zu", fx->dir, i);
		assert_int_equal(mkdir(sub.dir, 0755), 0);
		scenes[i].make(&sub, path, sizeof(path));
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		had_path = lstat(path, &st_before) == 0;
		had_tmp = exists(tmp);
		fds = count_fds();

		rc = replace(path, "new\n", 4, err, sizeof(err));

		if (rc != -1)
			fail_msg("%s: returned %d", scenes[i].what, rc);
		if (err[0] == '\0')
			fail_msg("%s: no reason given", scenes[i].what);
		if (strstr(err, path) == NULL)
			fail_msg("%s: '%s' does not name the path", scenes[i].what, err);
		if (count_fds() != fds)
			fail_msg("%s: descriptor leaked", scenes[i].what);
		/* the old object is where it was, as it was */
		if (had_path) {
			assert_int_equal(lstat(path, &st_after), 0);
			assert_true(st_after.st_ino == st_before.st_ino);
			assert_true((st_after.st_mode & S_IFMT) == (st_before.st_mode & S_IFMT));
			if (S_ISREG(st_before.st_mode))
				assert_contents(path, "old\n", 4);
		} else if (exists(path)) {
			fail_msg("%s: %s was created", scenes[i].what, path);
		}
		if (scenes[i].keep) {
			path_in(&sub, keep, sizeof(keep), scenes[i].keep);
			assert_contents(keep, "old\n", 4);
		}
		/* nothing of ours at PATH.tmp; a directory that was there stays */
		if (had_tmp) {
			struct stat st;

			assert_int_equal(lstat(tmp, &st), 0);
			assert_true(S_ISDIR(st.st_mode));
		} else if (exists(tmp)) {
			fail_msg("%s: %s left behind", scenes[i].what, tmp);
		}
	}
}

/* Longer than the function's own path buffer: refused before touching
 * anything. */
static void test_path_too_long(void **state)
{
	struct fx *fx = *state;
	char path[6000], err[256] = "";
	size_t n;

	n = (size_t)snprintf(path, sizeof(path), "%s/", fx->dir);
	memset(path + n, 'p', sizeof(path) - n - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(replace(path, "new\n", 4, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
}

/* A write that fails midway (here: RLIMIT_FSIZE, which binds root too) must
 * remove the partial PATH.tmp and leave the old file. */
static void test_write_fails(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], err[512] = "";
	struct rlimit old_lim, lim;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_sa;
	size_t len = 256 * 1024;
	char *data = malloc(len);
	int rc, fds;

	assert_non_null(data);
	memset(data, 'd', len);
	path_in(fx, path, sizeof(path), "out.prom");
	write_file(path, "old\n", 4);
	fds = count_fds();

	/* over the limit, write() fails with EFBIG instead of raising SIGXFSZ */
	assert_int_equal(sigaction(SIGXFSZ, &ign, &old_sa), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
	lim = old_lim;
	lim.rlim_cur = 64 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = replace(path, data, len, err, sizeof(err));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
	assert_int_equal(sigaction(SIGXFSZ, &old_sa, NULL), 0);

	assert_int_equal(rc, -1);
	if (strstr(err, path) == NULL)
		fail_msg("'%s' does not name the path", err);
	assert_contents(path, "old\n", 4);
	assert_no_tmp(path);
	assert_int_equal(count_fds(), fds);
	free(data);
}

/* A small err buffer is filled, truncated and terminated, never overrun
 * (ASan watches the heap buffer). */
static void test_small_err(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX];
	char *err = malloc(8);

	assert_non_null(err);
	path_in(fx, path, sizeof(path), "no-such-dir/out.prom");
	assert_int_equal(replace(path, "new\n", 4, err, 8), -1);
	assert_int_equal(strlen(err), 7);
	free(err);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_replaces_existing),
		T(test_steps),
		T(test_creates_new),
		T(test_zero_length),
		T(test_binary_and_large),
		T(test_reader_keeps_old),
		T(test_stale_tmp),
		T(test_relative_path),
		T(test_tmp_symlink_not_followed),
		T(test_failures),
		T(test_path_too_long),
		T(test_write_fails),
		T(test_small_err),
	};
#undef T
	return cmocka_run_group_tests_name("file_replace", tests, NULL, NULL);
}
