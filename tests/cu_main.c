/*
 * tests/cu_main.c - the one main() of every CUnit test program.
 *
 * Each tests/test_<module>.c defines cu_register(), which adds its suites to
 * the registry. The program exits non-zero if any assertion failed or a
 * suite could not be set up, so ctest sees every failure.
 */
#include <CUnit/Basic.h>
#include <stdio.h>

int cu_register(void);

int main(void)
{
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (cu_register() != 0 || CU_get_error() != CUE_SUCCESS) {
		fprintf(stderr, "cannot register tests: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed()
		 + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
