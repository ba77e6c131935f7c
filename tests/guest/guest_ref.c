/* guest_ref.c: the differential reference for tests/guest_test.sh.
 *
 *   guest_ref                     run the shared scenario (guest_scenario.c)
 *                                 on libnub's local backend and print the
 *                                 same "R ..." lines the guest's self test
 *                                 prints over serial;
 *   guest_ref --record-vectors OUT DIR...
 *                                 express every conformance vector (*.json)
 *                                 in DIR as caps (src/cli/vector_caps.c), and
 *                                 every SDK program (*.pvm: spi Image +
 *                                 Instance, one invocation), run it on the
 *                                 local backend, write each request to OUT
 *                                 (guest_record.h) and print one "T" line per
 *                                 request, as the guest's replay mode does.
 * Recording hooks nub_put_cap with the linker's --wrap (vector_caps.c calls
 * it), so the requests are byte for byte what the local backend received.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "cap/blake2b.h"
#include "cli/vector.h"
#include "cli/vector_caps.h"
#include "guest_record.h"
#include "guest_scenario.h"
#include "nub/nub.h"

static FILE *rec;
static unsigned rec_index;

static void record(uint32_t fn, const void *payload, size_t len, nub_err st, const void *reply, size_t rlen)
{
	static const uint8_t zero[8];
	uint32_t hdr[2] = {fn, (uint32_t)len};
	fwrite(hdr, sizeof hdr, 1, rec);
	fwrite(payload, 1, len, rec);
	fwrite(zero, 1, (8 - len % 8) % 8, rec);
	uint8_t d[32];
	blake2b_256(reply, rlen, d);
	unsigned long long d64 = 0;
	for (int i = 0; i < 8; i++)
		d64 = d64 << 8 | d[i];
	printf(GUEST_RECORD_LINE, rec_index++, fn, (unsigned)st, (unsigned)rlen, d64);
}

nub_err __real_nub_put_cap(nub_sandbox *sb, const uint8_t *bytes, size_t len, uint8_t hash_out[NUB_CAP_HASH_LEN]);
nub_err __wrap_nub_put_cap(nub_sandbox *sb, const uint8_t *bytes, size_t len, uint8_t hash_out[NUB_CAP_HASH_LEN]);
nub_err __wrap_nub_put_cap(nub_sandbox *sb, const uint8_t *bytes, size_t len, uint8_t hash_out[NUB_CAP_HASH_LEN])
{
	nub_err e = __real_nub_put_cap(sb, bytes, len, hash_out);
	if (rec)
		record(NUB_FN_ID_PUT_CAP, bytes, len, e, hash_out, e ? 0 : NUB_CAP_HASH_LEN);
	return e;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Publish an spi program (entry pc 0) as an Image and an Instance (both
 * PUT_CAPs recorded through the wrap). */
static nub_err record_spi(nub_sandbox *sb, const uint8_t *spi, size_t len, uint8_t inst[NUB_CAP_HASH_LEN])
{
	uint32_t entry = 0;
	uint8_t img[NUB_CAP_HASH_LEN];
	nub_cap_buf b;
	nub_err e = nub_cap_image_from_spi(spi, len, &entry, 1, NULL, 0, &b);
	if (e)
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, img);
	nub_cap_buf_free(&b);
	if (e || (e = nub_cap_instance(img, NULL, 0, &b)))
		return e;
	e = nub_put_cap(sb, b.bytes, b.len, inst);
	nub_cap_buf_free(&b);
	return e;
}

/* Every conformance vector (*.json) and SDK program (*.pvm) of dir, in name
 * order. */
static int record_dir(nub_sandbox *sb, const char *dir, unsigned *n_vec, unsigned *n_prog)
{
	DIR *dp = opendir(dir);
	if (!dp) {
		fprintf(stderr, "guest_ref: cannot open %s\n", dir);
		return 1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dp))) {
		size_t nl = strlen(de->d_name);
		if ((nl > 5 && strcmp(de->d_name + nl - 5, ".json") == 0) ||
		    (nl > 4 && strcmp(de->d_name + nl - 4, ".pvm") == 0)) {
			names = realloc(names, (n + 1) * sizeof *names);
			names[n++] = strdup(de->d_name);
		}
	}
	closedir(dp);
	qsort(names, n, sizeof *names, by_name);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096], err[256];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		size_t nl = strlen(names[i]);
		bool spi = nl > 4 && strcmp(names[i] + nl - 4, ".pvm") == 0;
		free(names[i]);
		FILE *f = fopen(path, "rb");
		if (!f) {
			rc = 1;
			continue;
		}
		fseek(f, 0, SEEK_END);
		long len = ftell(f);
		fseek(f, 0, SEEK_SET);
		char *json = malloc((size_t)len + 1);
		size_t got = json ? fread(json, 1, (size_t)len, f) : 0;
		fclose(f);
		if (spi) { /* an SDK program (nub-cc): spi Image + Instance, one invocation */
			if (!json || got != (size_t)len) {
				fprintf(stderr, "guest_ref: %s unreadable\n", path);
				free(json);
				rc = 1;
				continue;
			}
			uint8_t inst[NUB_CAP_HASH_LEN];
			nub_err e = record_spi(sb, (const uint8_t *)json, (size_t)len, inst);
			free(json);
			if (e) {
				fprintf(stderr, "guest_ref: %s: %s\n", path, nub_strerror(e));
				rc = 1;
				continue;
			}
			InvokePacket p;
			InvocationResult r;
			memset(&p, 0, sizeof p);
			memcpy(p.instance_hash, inst, sizeof inst);
			p.args[0] = 0xFEFF0000u; /* GP A.7: phi7 = argument address, phi8 = 0 */
			p.initial_gas = 1000000000;
			e = nub_invoke(sb, &p, &r);
			record(NUB_FN_ID_INVOKE_CACHED, &p, sizeof p, e, &r, sizeof r);
			(*n_prog)++;
			continue;
		}
		vector v;
		if (!json || got != (size_t)len || !vector_parse(json, (size_t)len, &v, err, sizeof err)) {
			fprintf(stderr, "guest_ref: %s unreadable\n", path);
			free(json);
			rc = 1;
			continue;
		}
		free(json);
		uint8_t inst[NUB_CAP_HASH_LEN];
		if (vector_put_caps(sb, &v, inst) == NUB_E_OK) {
			InvokePacket p;
			InvocationResult r;
			vector_packet(&v, inst, &p);
			nub_err e = nub_invoke(sb, &p, &r);
			record(NUB_FN_ID_INVOKE_CACHED, &p, sizeof p, e, &r, sizeof r);
		}
		vector_free(&v);
		(*n_vec)++;
	}
	free(names);
	return rc;
}

static nub_err r_put(void *ctx, const uint8_t *b, size_t len, uint8_t hash[NUB_CAP_HASH_LEN])
{
	return nub_put_cap(ctx, b, len, hash);
}
static nub_err r_invoke(void *ctx, const InvokePacket *p, InvocationResult *r)
{
	return nub_invoke(ctx, p, r);
}
static nub_err r_heap(void *ctx, NubHeapStats *out)
{
	return nub_heap_stats(ctx, out);
}
static nub_err r_boot(void *ctx, BootInfo *out)
{
	return nub_boot_info(ctx, out);
}
static nub_err r_evict(void *ctx)
{
	return nub_evict_jit_all(ctx);
}
static void r_line(void *ctx, const char *text)
{
	(void)ctx;
	printf("%s\n", text);
}

int main(int argc, char **argv)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	nub_sandbox *sb = NULL;
	nub_err e = nub_open(&o, &sb);
	if (e) {
		fprintf(stderr, "guest_ref: nub_open: %s\n", nub_strerror(e));
		return 1;
	}
	if (argc >= 3 && strcmp(argv[1], "--record-vectors") == 0) {
		rec = fopen(argv[2], "wb");
		if (!rec) {
			fprintf(stderr, "guest_ref: cannot write %s\n", argv[2]);
			return 1;
		}
		uint64_t magic = GUEST_RECORD_MAGIC;
		fwrite(&magic, sizeof magic, 1, rec);
		unsigned n_vec = 0, n_prog = 0;
		int rc = 0;
		for (int i = 3; i < argc; i++)
			rc |= record_dir(sb, argv[i], &n_vec, &n_prog);
		rc |= fclose(rec) != 0;
		nub_close(sb);
		fprintf(stderr, "guest_ref: %u vectors, %u programs, %u requests recorded\n", n_vec, n_prog, rec_index);
		return rc;
	}
	scn_ops ops = {sb, r_put, r_invoke, r_heap, r_boot, r_evict, r_line};
	unsigned n = scn_run(&ops);
	nub_close(sb);
	fprintf(stderr, "guest_ref: %u lines\n", n);
	return 0;
}
