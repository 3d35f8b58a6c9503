/* SPDX-License-Identifier: MIT */
/* Replays a fuzz corpus through the fuzz target: a CTest runs it on
 * tests/fuzz/corpus, so every build checks the inputs the fuzzer found. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf;
  long n;
  if (!f)
    return 1;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(buf);
    return 1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  DIR *d;
  struct dirent *e;
  int count = 0, failed = 0;
  if (argc != 2 || !(d = opendir(argv[1]))) {
    fprintf(stderr, "usage: boot_replay CORPUS_DIR\n");
    return 2;
  }
  while ((e = readdir(d)) != NULL) {
    char path[4096];
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
    failed += replay(path);
    count++;
  }
  closedir(d);
  printf("replayed %d inputs, %d unreadable\n", count, failed);
  return count > 0 && failed == 0 ? 0 : 1;
}
