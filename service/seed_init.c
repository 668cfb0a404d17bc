/*
 * seed_init.c - migrate and seed the database before serving (the
 * container's start; see seed_init.h for the contract).
 *
 * The new-database path in order: remove stale files, store_open(<db>.init)
 * (creates and migrates), seed_apply, store_close (SQLite folds its WAL
 * into the file on the last close), move a WAL that is still there along
 * to <db>-wal so that nothing committed is lost, rename(<db>.init, <db>),
 * fsync the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seed_init.h"
#include "store.h"

/* The suffixes of SQLite's side files. */
static const char *const side_files[] = { "-wal", "-shm", "-journal" };
#define NSIDE (sizeof(side_files) / sizeof(side_files[0]))

int
seed_init_parse_mode(const char *s, enum seed_init_mode *mode)
{
	if (s == NULL || strcmp(s, "auto") == 0)
		*mode = SEED_INIT_AUTO;
	else if (strcmp(s, "always") == 0)
		*mode = SEED_INIT_ALWAYS;
	else if (strcmp(s, "never") == 0)
		*mode = SEED_INIT_NEVER;
	else
		return -1;
	return 0;
}

/* path + suffix into buf; -1 when it does not fit. */
static int
join(char *buf, size_t cap, const char *path, const char *suffix)
{
	int n = snprintf(buf, cap, "%s%s", path, suffix);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The directory part of path into buf ("." when there is none). */
static int
dir_of(char *buf, size_t cap, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL)
		return join(buf, cap, ".", "");
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= cap)
		return -1;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return 0;
}

/* unlink that ignores a missing file; -1 with err set otherwise. */
static int
remove_file(const char *path, char *err, size_t errlen)
{
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
	return -1;
}

/* Remove path's -wal, -shm and -journal (and path itself when whole). */
static int
remove_side_files(const char *path, int whole, char *err, size_t errlen)
{
	char p[4096];
	size_t i;

	if (whole && remove_file(path, err, errlen) != 0)
		return -1;
	for (i = 0; i < NSIDE; i++) {
		if (join(p, sizeof(p), path, side_files[i]) != 0 ||
		    remove_file(p, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* Open (create, migrate) db and seed it when asked. */
static int
migrate_and_seed(const char *db, int seed, const char *json, size_t len,
    struct seed_init_report *rep, char *err, size_t errlen)
{
	struct store *st;
	char *oerr = NULL;
	int rc = -1;

	st = store_open(db, &oerr);
	if (st == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", db,
		    oerr != NULL ? oerr : "unknown error");
		free(oerr);
		return -1;
	}
	rep->schema_version = store_schema_version(st);
	if (seed) {
		if (seed_apply(st, json, len, &rep->stats, err, errlen) != 0)
			goto out;
		rep->seeded = 1;
	}
	rc = 0;
out:
	store_close(st);
	return rc;
}

/* fsync a directory so that a rename in it is durable. */
static int
sync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot sync %s: %s", dir,
		    strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* A new database: built as <db>.init, renamed into place when complete. */
static int
create_db(const char *db, const char *dir, enum seed_init_mode mode,
    const char *json, size_t len, struct seed_init_report *rep, char *err,
    size_t errlen)
{
	char tmp[4096], shm[4096], from[4096], to[4096];

	if (join(tmp, sizeof(tmp), db, ".init") != 0 ||
	    join(shm, sizeof(shm), tmp, "-shm") != 0 ||
	    join(from, sizeof(from), tmp, "-wal") != 0 ||
	    join(to, sizeof(to), db, "-wal") != 0) {
		snprintf(err, errlen, "database path too long");
		return -1;
	}
	/* no database, so any WAL or shared memory beside it is stale */
	if (remove_side_files(tmp, 1, err, errlen) != 0 ||
	    remove_side_files(db, 0, err, errlen) != 0)
		return -1;
	if (migrate_and_seed(tmp, mode != SEED_INIT_NEVER, json, len, rep,
	    err, errlen) != 0)
		return -1;
	if (remove_file(shm, err, errlen) != 0)
		return -1;
	if (rename(from, to) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot rename %s: %s", from,
		    strerror(errno));
		return -1;
	}
	if (rename(tmp, db) != 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, db,
		    strerror(errno));
		return -1;
	}
	rep->created = 1;
	return sync_dir(dir, err, errlen);
}

enum seed_init_status
seed_init(const char *db, enum seed_init_mode mode, const char *json,
    size_t len, struct seed_init_report *rep, char *err, size_t errlen)
{
	char dir[4096];
	struct stat sb;

	memset(rep, 0, sizeof(*rep));
	if (dir_of(dir, sizeof(dir), db) != 0) {
		snprintf(err, errlen, "database path too long");
		return SEED_INIT_FAILED;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "%s is not writable by uid %u: %s; mount "
		    "a volume there, or chown a bind-mounted directory to "
		    "%u:%u", dir, (unsigned)getuid(), strerror(errno),
		    (unsigned)getuid(), (unsigned)getgid());
		return SEED_INIT_NOT_WRITABLE;
	}
	if (stat(db, &sb) != 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "cannot stat %s: %s", db,
			    strerror(errno));
			return SEED_INIT_FAILED;
		}
		sb.st_size = 0;
	}
	if (sb.st_size > 0) {
		if (migrate_and_seed(db, mode == SEED_INIT_ALWAYS, json, len,
		    rep, err, errlen) != 0)
			return SEED_INIT_FAILED;
		return SEED_INIT_OK;
	}
	if (create_db(db, dir, mode, json, len, rep, err, errlen) != 0)
		return SEED_INIT_FAILED;
	return SEED_INIT_OK;
}
