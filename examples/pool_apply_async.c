/* SPDX-License-Identifier: MIT */
/* Tutorial 2, "进程两种创建方法" (Two ways to create a process: fork and
 * multiprocessing),
 * lesson "进程池实现" (a process pool): ten tasks given to a pool with
 * apply_async; close, join, then the last task's return value.
 *
 * Output: for each task the time and its message, "Tedu 0" to "Tedu 9" (the
 * tutorial's strings), in the order the workers finish them; then 8888, the
 * value the last task returned.
 *
 * An optional argument sets the task's sleep in milliseconds (the
 * tutorial's is 2000), so that a test can run the same program faster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mproc.h"
#include "portable.h"

/* How long each task sleeps. A worker started with spawn (Windows) is a
 * fresh run of this program that never gets past mproc_init(), so what main
 * sets here reaches it through the pool's initializer, run once in each
 * worker: Python's Pool(initializer=..., initargs=...). */
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
  /* ctime() ends with a newline; Python's print puts its own. */
  printf("%.24s -- %.*s\n", ctime(&now), (int)size, (const char *)msg);
  fflush(stdout);
  return mproc_buf_set(result, &value, sizeof value);
}
MPROC_TASK(worker);

int main(int argc, char **argv) {
  mproc_pool_options_t options = {0};
  mproc_pool_t *pool;
  mproc_async_result_t *r[10];
  const void *data;
  size_t size;
  int i, status, value;

  mproc_init(&argc, &argv);
  if (argc > 1)
    task_ms = atoi(argv[1]);
  options.initializer = set_task_ms;
  options.initargs = &task_ms;
  options.initargs_size = sizeof task_ms;

  /* 创建进程池 */
  if (mproc_pool_create(&pool, &options) != 0)
    return 1;

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
