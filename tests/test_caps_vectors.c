/* test_caps_vectors.c: every conformance vector expressed as caps (the recipe
 * documented for `nub conformance --backend`), invoked through the public API,
 * and compared with a direct engine run of the same vector: exit reason,
 * exit_arg, phi7, gas and the scratchpad head (region 0 = slot 0) must agree,
 * and the exit reason must be the vector's expected status. */
#include <dirent.h>
#include <stdlib.h>

#include "cli/vector.h"
#include "cli/vector_caps.h"
#include "nub/nub.h"
#include "test.h"

static unsigned n_vectors, n_mismatch;

static void check_dir(nub_sandbox *sb, const char *dir)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return;
	struct dirent *de;
	while ((de = readdir(dp))) {
		size_t nl = strlen(de->d_name);
		if (nl < 6 || strcmp(de->d_name + nl - 5, ".json"))
			continue;
		char path[1024], err[256];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		size_t len;
		char *json = test_read_file(path, &len);
		vector v;
		if (!json || !vector_parse(json, len, &v, err, sizeof err)) {
			printf("    %s: unreadable (%s)\n", path, json ? err : "io");
			n_mismatch++;
			free(json);
			continue;
		}
		free(json);
		n_vectors++;

		/* Through the caps. Arguments 0: phi7..phi10 come from the endpoint. */
		uint8_t inst[32];
		InvocationResult r;
		memset(&r, 0, sizeof r);
		nub_err e = vector_put_caps(sb, &v, inst);
		bool bad_code = e == NUB_E_IMAGE_CODE;
		if (!e) {
			InvokePacket p;
			vector_packet(&v, inst, &p);
			e = nub_invoke(sb, &p, &r);
		}
		if (e && !bad_code) {
			printf("    %s: %s\n", v.name, nub_strerror(e));
			n_mismatch++;
			vector_free(&v);
			continue;
		}

		/* Directly on the engine. */
		pvm_program *prog = NULL;
		pvm_instance *m = NULL;
		pvm_exit x = PVM_EXIT_PANIC;
		uint8_t head[SCRATCHPAD_HEAD_LEN] = {0};
		bool direct_ok = pvm_program_new(v.program, v.program_len, &prog) == PVM_E_OK;
		if (bad_code != !direct_ok) {
			printf("    %s: caps say code %s, engine says %s\n", v.name, bad_code ? "bad" : "ok",
			       direct_ok ? "ok" : "bad");
			n_mismatch++;
		} else if (bad_code) {
			if (v.has_expect && v.status != PVM_EXIT_PANIC) {
				printf("    %s: undecodable program but expected status %d\n", v.name, v.status);
				n_mismatch++;
			}
		} else if (vector_instance(&v, prog, &m) != PVM_E_OK) {
			printf("    %s: engine refused the vector\n", v.name);
			n_mismatch++;
		} else {
			x = pvm_run(m);
			if (x == PVM_EXIT_HALT && v.n_pages)
				pvm_mem_read(m, v.pages[0].addr, head, SCRATCHPAD_HEAD_LEN);
			int64_t g = pvm_gas(m);
			uint32_t arg = x == PVM_EXIT_PAGE_FAULT ? (pvm_exit_arg(m) & ~0xFFFu)
			               : x == PVM_EXIT_HOST     ? pvm_exit_arg(m)
			                                        : 0;
			if (r.exit_reason != (uint32_t)x || r.exit_arg != arg || r.return_value != pvm_reg(m, 7) ||
			    r.gas_remaining != (uint64_t)(g > 0 ? g : 0) ||
			    memcmp(r.scratchpad_head, head, sizeof head) != 0) {
				printf("    %s: caps (%s arg=%u r7=%llu gas=%llu) != engine (%s arg=%u r7=%llu gas=%lld)\n",
				       v.name, nub_exit_name(r.exit_reason), r.exit_arg, (unsigned long long)r.return_value,
				       (unsigned long long)r.gas_remaining, pvm_exit_name(x), arg,
				       (unsigned long long)pvm_reg(m, 7), (long long)g);
				n_mismatch++;
			} else if (v.has_expect && (int)r.exit_reason != v.status) {
				printf("    %s: status %s, vector expects %d\n", v.name, nub_exit_name(r.exit_reason), v.status);
				n_mismatch++;
			}
		}
		if (m)
			pvm_instance_free(m);
		if (prog)
			pvm_program_free(prog);
		vector_free(&v);
	}
	closedir(dp);
}

TEST(vectors_through_caps)
{
	nub_options o;
	nub_options_init(&o);
	o.backend = NUB_BACKEND_LOCAL;
	nub_sandbox *sb;
	ASSERT_EQ(nub_open(&o, &sb), NUB_E_OK);
	check_dir(sb, "tests/conformance/pvm/vectors");
	check_dir(sb, "tests/conformance/pvm/random");
	check_dir(sb, "tests/conformance/pvm/random-ro-write");
	nub_close(sb);
	if (n_vectors == 0)
		SKIP("no conformance vectors found (run from the repository root)");
	printf("    %u vectors through caps, %u mismatches\n", n_vectors, n_mismatch);
	ASSERT_EQ(n_mismatch, 0);
	ASSERT_TRUE(n_vectors >= 500);
}

int main(void)
{
	RUN(vectors_through_caps);
	return test_done();
}
