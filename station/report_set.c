/*
 * station/report_set.c - see report_set.h: the stage folder, the manifest
 * and the swap that make a report folder hold one complete set.
 *
 * Invariant: while a report runs, the folder's manifest lists exactly the
 * files of one complete set, or is absent; it is removed before the first
 * rename into the folder and put back after the last. Every operation is
 * relative to the folder's descriptor, so the folder cannot change under
 * the report between the lock and the swap.
 */
#include "report_set.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* One line of a manifest: 64 hex digits, two blanks, the name, "\n". */
#define HEX_LEN 64

typedef struct names {
	char **v;
	size_t n, cap;
} names;

static int names_add(names *l, const char *name, size_t len)
{
	char **nv;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;

		nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n] = strndup(name, len);
	if (!l->v[l->n])
		return -1;
	l->n++;
	return 0;
}

static void names_free(names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int names_has(const names *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], name) == 0)
			return 1;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files in the stage fd (names ending ".tmp", a writer's
 * leftovers, left out), sorted in byte order. A name may begin with '.':
 * a lot named ".x" gives ".x_W01.stdf". */
static int list_files(int fd, names *out)
{
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	int rc = 0;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	rewinddir(d);
	while (rc == 0 && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		rc = names_add(out, de->d_name, len);
	}
	closedir(d);
	if (rc == 0)
		qsort(out->v, out->n, sizeof(*out->v), cmp_name);
	return rc;
}

/* Remove the stage folder and the files in it; 0 if it is gone. */
static int remove_stage(rset *s)
{
	int fd, rc = 0;

	fd = openat(s->dirfd, s->stage_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	/* Every entry, .tmp leftovers included. */
	{
		int dfd = dup(fd);
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		struct dirent *de;

		if (!d && dfd >= 0)
			close(dfd);
		while (d && (de = readdir(d)))
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
			    unlinkat(fd, de->d_name, 0) != 0)
				rc = -1;
		if (d)
			closedir(d);
		else
			rc = -1;
	}
	close(fd);
	if (rc == 0 && unlinkat(s->dirfd, s->stage_name, AT_REMOVEDIR) != 0)
		rc = -1;
	return rc;
}

int rset_begin(rset *s, const char *dir, const char *manifest, kgd_err *err)
{
	size_t base = strlen(manifest) - strlen(".sha256");
	size_t n;

	memset(s, 0, sizeof(*s));
	s->dirfd = -1;
	s->dir = dir;
	s->manifest = manifest;
	snprintf(s->stage_name, sizeof(s->stage_name), ".%.*s.new", (int)base,
		 manifest);
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		return kgd_err_set(err, KGD_ERR_IO, "%s: %s", dir, strerror(errno));
	if (flock(s->dirfd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		close(s->dirfd);
		s->dirfd = -1;
		return kgd_err_set(err, KGD_ERR_IO, "%s: %s", dir,
				   e == EWOULDBLOCK ? "another station report is "
				   "writing into this folder" : strerror(e));
	}
	if (remove_stage(s) != 0) {
		kgd_err_set(err, KGD_ERR_IO, "%s/%s: cannot remove a killed "
			    "report's stage: %s", dir, s->stage_name,
			    strerror(errno));
		goto fail;
	}
	if (mkdirat(s->dirfd, s->stage_name, 0755) != 0) {
		kgd_err_set(err, KGD_ERR_IO, "%s/%s: %s", dir, s->stage_name,
			    strerror(errno));
		goto fail;
	}
	n = strlen(dir) + strlen(s->stage_name) + 2;
	s->stage = malloc(n);
	if (!s->stage) {
		kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		goto fail;
	}
	snprintf(s->stage, n, "%s/%s", dir, s->stage_name);
	return KGD_OK;
fail:
	rset_end(s);
	return err ? err->status : KGD_ERR_IO;
}

/* "hex  name\n" of the file name in the folder fd into line, the file's
 * bytes forced to disk first (the manifest must never name a file a
 * power cut could leave short). */
static int hash_line(int fd, const char *name, char *line, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int f = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int ok = ctx && f >= 0 && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	ssize_t got;

	while (ok && (got = read(f, buf, sizeof(buf))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		ok = got > 0 && EVP_DigestUpdate(ctx, buf, (size_t)got);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len) && md_len * 2 == HEX_LEN &&
	     fsync(f) == 0;
	if (ok) {
		for (unsigned i = 0; i < md_len; i++) {
			line[2 * i] = hex[md[i] >> 4];
			line[2 * i + 1] = hex[md[i] & 15];
		}
		snprintf(line + HEX_LEN, cap - HEX_LEN, "  %s\n", name);
	}
	if (f >= 0)
		close(f);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Write the whole of text into the new file name in the folder fd, synced. */
static int write_file(int fd, const char *name, const char *text, size_t len)
{
	int f = openat(fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		       O_CLOEXEC, 0644);
	size_t done = 0;

	if (f < 0)
		return -1;
	while (done < len) {
		ssize_t w = write(f, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(f);
			return -1;
		}
		done += (size_t)w;
	}
	if (fsync(f) != 0) {
		close(f);
		return -1;
	}
	return close(f);
}

/* The names an existing manifest in the folder lists (none if absent). */
static int read_manifest(rset *s, names *out)
{
	char line[4096];
	FILE *f;
	int fd = openat(s->dirfd, s->manifest, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		const char *name = line + HEX_LEN + 2;

		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		/* Only plain names in this folder: never a path. */
		if (len <= HEX_LEN + 2 || strncmp(line + HEX_LEN, "  ", 2) != 0 ||
		    strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		    strchr(name, '/'))
			continue;
		if (names_add(out, name, strlen(name)) != 0) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

int rset_commit(rset *s, kgd_err *err)
{
	names now = {0}, old = {0};
	char *text = NULL, *grown;
	size_t len = 0, cap = 0;
	int sfd = -1, status = KGD_OK, swapping = 0;
	const char *step = s->stage_name;

	sfd = openat(s->dirfd, s->stage_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || list_files(sfd, &now) != 0) {
		step = s->stage_name;
		goto fail;
	}
	/* 1. The manifest, in the stage. */
	for (size_t i = 0; i < now.n; i++) {
		size_t need = HEX_LEN + strlen(now.v[i]) + 4;

		if (strpbrk(now.v[i], "\\\n")) {
			errno = EINVAL;
			step = now.v[i];
			goto fail;
		}
		if (len + need > cap) {
			cap = (len + need) * 2;
			grown = realloc(text, cap);
			if (!grown) {
				errno = ENOMEM;
				goto fail;
			}
			text = grown;
		}
		if (hash_line(sfd, now.v[i], text + len, cap - len) != 0) {
			step = now.v[i];
			goto fail;
		}
		len += strlen(text + len);
	}
	if (write_file(sfd, s->manifest, text ? text : "", len) != 0 ||
	    read_manifest(s, &old) != 0) {
		step = s->manifest;
		goto fail;
	}
	/* A rename that would fail (a folder of the same name) fails here,
	 * while the old set is still whole. */
	for (size_t i = 0; i < now.n; i++) {
		struct stat st;

		if (fstatat(s->dirfd, now.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			errno = EISDIR;
			step = now.v[i];
			goto fail;
		}
	}
	/* 2. The old set is no longer complete. */
	if (unlinkat(s->dirfd, s->manifest, 0) != 0 && errno != ENOENT) {
		step = s->manifest;
		goto fail;
	}
	swapping = 1;
	fsync(s->dirfd);
	/* 3. The new files in, the old set's other files out. */
	for (size_t i = 0; i < now.n; i++)
		if (renameat(sfd, now.v[i], s->dirfd, now.v[i]) != 0) {
			step = now.v[i];
			goto fail;
		}
	for (size_t i = 0; i < old.n; i++) {
		struct stat st;

		if (names_has(&now, old.v[i]) || strcmp(old.v[i], s->manifest) == 0 ||
		    fstatat(s->dirfd, old.v[i], &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(s->dirfd, old.v[i], 0) != 0 && errno != ENOENT) {
			step = old.v[i];
			goto fail;
		}
	}
	/* 4. Complete: the manifest last. */
	if (renameat(sfd, s->manifest, s->dirfd, s->manifest) != 0) {
		step = s->manifest;
		goto fail;
	}
	fsync(s->dirfd);
	s->files = (int)now.n;
	if (unlinkat(s->dirfd, s->stage_name, AT_REMOVEDIR) != 0) {
		step = s->stage_name;
		goto fail;
	}
	goto out;
fail:
	status = kgd_err_set(err, errno == ENOMEM ? KGD_ERR_NOMEM : KGD_ERR_IO,
			     "%s/%s: %s (%s)", s->dir, step, strerror(errno),
			     swapping ? "the folder's report set is incomplete: "
			     "no manifest" : "the folder's report set is "
			     "unchanged");
out:
	if (sfd >= 0)
		close(sfd);
	free(text);
	names_free(&now);
	names_free(&old);
	return status;
}

void rset_end(rset *s)
{
	if (s->dirfd >= 0) {
		remove_stage(s);
		close(s->dirfd);   /* and with it the lock */
		s->dirfd = -1;
	}
	free(s->stage);
	s->stage = NULL;
}
