/* test_pvm.c: engine unit tests (decoder, memory, interpreter edge cases). */
#include "pvm/pvm.h"
#include "test.h"

TEST(empty_blob_rejected)
{
	pvm_program *p;
	ASSERT_EQ(pvm_program_new((const uint8_t *)"", 0, &p), PVM_E_BLOB_TRUNCATED);
}

int main(void)
{
	RUN(empty_blob_rejected);
	return test_done();
}
