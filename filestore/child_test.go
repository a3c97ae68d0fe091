package filestore_test

const childEnv = "FILESTORE_TEST_CHILD"

func runChild(role string) int { return 2 }
