/* SPDX-License-Identifier: MIT */
/* Seed 002 "进程池" on MPI ranks: ten tasks given to a pool with
 * apply_async; close, join, then the last task's return value (8888).
 * The program is examples/pool_apply_async.c with two calls changed:
 * mproc_mpi_init() for mproc_init(), mproc_mpi_pool_create() for
 * mproc_pool_create().
 *
 *   mpiexec -n 5 ./mpi_pool          four worker ranks (static)
 *   ./mpi_pool                       the pool spawns its worker ranks
 *
 * An optional argument sets the task's sleep in milliseconds (the seed's
 * is 2000), so that a test can run the same program faster. Each line
 * names the rank and host the task ran on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mproc_mpi.h"
#include "portable.h"

/* How long each task sleeps; main sets it, and it reaches the worker
 * ranks (other runs of this program) through the pool's initializer. */
static int task_ms = 2000;

static int set_task_ms(const void *arg, size_t size) {
  if (size == sizeof task_ms)
    memcpy(&task_ms, arg, sizeof task_ms);
  return 0;
}
MPROC_TARGET(set_task_ms);

/* 进程池事件函数: sleep, print the time and the message, return 8888. */
static int worker(const void *msg, size_t size, mproc_buf_t *result) {
  int value = 8888;
  time_t now;
  sleep_ms(task_ms);
  now = time(NULL);
  printf("%.24s -- %.*s (pid %ld)\n", ctime(&now), (int)size, (const char *)msg,
         (long)mproc_getpid());
  fflush(stdout);
  return mproc_buf_set(result, &value, sizeof value);
}
MPROC_TASK(worker);

int main(int argc, char **argv) {
  mproc_pool_options_t options = {0};
  mproc_pool_t *pool;
  mproc_async_result_t *r[10];
  mproc_mpi_worker_info_t who[64];
  const void *data;
  size_t size, n = 0;
  int i, status, value, rc;

  /* Worker ranks serve here and never return. */
  if (mproc_mpi_init(&argc, &argv) != 0)
    return 1;
  if (argc > 1)
    task_ms = atoi(argv[1]);
  options.initializer = set_task_ms;
  options.initargs = &task_ms;
  options.initargs_size = sizeof task_ms;
  /* Dynamic workers: as many as the static form's four. */
  options.processes = 0;

  /* 创建进程池 */
  if ((rc = mproc_mpi_pool_create(&pool, &options, NULL)) != 0) {
    fprintf(stderr, "mproc_mpi_pool_create: %s\n", mproc_strerror(rc));
    return 1;
  }
  mproc_mpi_pool_workers(pool, who, 64, &n);
  for (i = 0; i < (int)n && i < 64; i++)
    printf("worker %d: rank %d on %s, pid %ld\n", i, who[i].rank, who[i].host,
           (long)who[i].pid);

  /* 向进程池中添加事件 */
  for (i = 0; i < 10; i++) {
    char msg[32];
    snprintf(msg, sizeof msg, "Tedu %d", i);
    if (mproc_pool_apply_async(pool, worker, msg, strlen(msg), NULL, &r[i]) !=
        0)
      return 1;
  }

  /* 关闭进程池 */
  mproc_pool_close(pool);

  /* 回收进程池 */
  mproc_pool_join(pool, MPROC_INFINITE);

  /* 获取进程池事件函数返回值 */
  if (mproc_async_result_get(r[9], MPROC_INFINITE, &status, &data, &size) !=
          0 ||
      status != 0 || size != sizeof value)
    return 1;
  memcpy(&value, data, sizeof value);
  printf("%d\n", value);

  for (i = 0; i < 10; i++)
    mproc_async_result_free(r[i]);
  mproc_pool_free(pool);
  return 0;
}
