// SPDX-License-Identifier: MIT
// mproc beside Boost.Interprocess, the peer a C++ programmer would pick
// instead, measured side by side in one run (alternating rounds, medians):
//   - Queue, 64-byte messages, one producer process to one consumer, beside
//     boost::interprocess::message_queue;
//   - Queue, 1 MiB messages, the same;
//   - Lock acquire+release, uncontended, beside interprocess_mutex (which is
//     not robust: a holder that dies leaves it locked for good) and beside a
//     process-shared robust pthread mutex, the system's own limit.
#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "bench_util.h"
#include "mproc.h"

namespace bip = boost::interprocess;

namespace {

constexpr int kRoundsMax = 64;
constexpr size_t kMiB = size_t(1) << 20;

std::string mq_name;
mproc_queue_t small_q, big_q;
char *big_buf;

struct Stream {
  mproc_queue_t q;
  int count;
  size_t size;
  int boost; // 1: send on the Boost queue named mq_name instead
  char name[64];
};

int producer(const void *arg, size_t) {
  Stream s;
  std::memcpy(&s, arg, sizeof s);
  char *buf = static_cast<char *>(std::calloc(1, s.size));
  if (!buf)
    return 1;
  int rc = 0;
  if (s.boost) {
    try {
      bip::message_queue mq(bip::open_only, s.name);
      for (int i = 0; i < s.count; i++) {
        std::memcpy(buf, &i, sizeof i);
        mq.send(buf, s.size, 0);
      }
    } catch (...) {
      rc = 1;
    }
  } else {
    for (int i = 0; i < s.count && rc == 0; i++) {
      std::memcpy(buf, &i, sizeof i);
      rc = mproc_queue_put(&s.q, buf, s.size, MPROC_INFINITE) == 0 ? 0 : 1;
    }
  }
  std::free(buf);
  return rc;
}
MPROC_TARGET(producer);

void stream(mproc_queue_t *q, size_t size, int n, bool boost) {
  Stream s{};
  s.q = *q;
  s.count = n;
  s.size = size;
  s.boost = boost;
  std::snprintf(s.name, sizeof s.name, "%s-%zu", mq_name.c_str(), size);
  mproc_process_t *p = bench_start(producer, &s, sizeof s, MPROC_START_FORK);
  size_t got;
  if (boost) {
    bip::message_queue mq(bip::open_only, s.name);
    unsigned prio;
    bip::message_queue::size_type recvd;
    for (int i = 0; i < n; i++)
      mq.receive(big_buf, kMiB, recvd, prio);
  } else {
    for (int i = 0; i < n; i++) {
      int rc = mproc_queue_get_into(q, big_buf, kMiB, &got, MPROC_INFINITE);
      if (rc != 0)
        bench_die("get", rc);
    }
  }
  bench_finish(p);
}

void mproc_64(int n) { stream(&small_q, 64, n, false); }
void boost_64(int n) { stream(&small_q, 64, n, true); }
void mproc_1m(int n) { stream(&big_q, kMiB, n, false); }
void boost_1m(int n) { stream(&big_q, kMiB, n, true); }

mproc_lock_t lock;
bip::interprocess_mutex *bmutex;
pthread_mutex_t *robust;

void lock_loop(int n) {
  for (int i = 0; i < n; i++) {
    mproc_lock_acquire(&lock, MPROC_INFINITE);
    mproc_lock_release(&lock);
  }
}
void boost_loop(int n) {
  for (int i = 0; i < n; i++) {
    bmutex->lock();
    bmutex->unlock();
  }
}
void robust_loop(int n) {
  for (int i = 0; i < n; i++) {
    pthread_mutex_lock(robust);
    pthread_mutex_unlock(robust);
  }
}

// Alternating rounds of every function in `fns`; medians of seconds per
// operation into `med`.
void compare(void (*const *fns)(int), int count, int iters, int rounds,
             double *med) {
  static double samples[4][kRoundsMax];
  if (rounds > kRoundsMax)
    rounds = kRoundsMax;
  for (int f = 0; f < count; f++)
    fns[f](iters / 10 + 1);
  for (int r = 0; r < rounds; r++) {
    for (int f = 0; f < count; f++) {
      double t = bench_now();
      fns[f](iters);
      samples[f][r] = (bench_now() - t) / iters;
    }
  }
  for (int f = 0; f < count; f++)
    med[f] = bench_median(samples[f], rounds);
}

void report_rate(const char *title, const char *id, double mproc_s,
                 double peer_s, double bytes) {
  const char *unit = bytes > 0 ? "GB/s" : "M msg/s";
  double scale = bytes > 0 ? bytes / 1e9 : 1e-6;
  std::printf("%s\n  %-36s %10.2f %s\n  %-36s %10.2f %s\n"
              "  mproc is %.2fx the peer's rate (target >= 2x)\n",
              title, "mproc_queue", scale / mproc_s, unit,
              "boost message_queue", scale / peer_s, unit, peer_s / mproc_s);
  bench_record(id, "mproc_queue", scale / mproc_s, "boost message_queue",
               scale / peer_s, bytes > 0 ? "GB/s" : "Mmsg/s");
}

} // namespace

int main(int argc, char **argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
  mproc_init(&argc, &argv);
  if (rounds < 1)
    rounds = 1;
  // Not "mproc-...": that prefix in /dev/shm names mproc's own segments.
  mq_name = "boost-bench-" + std::to_string(getpid());
  big_buf = static_cast<char *>(std::malloc(kMiB));
  if (!big_buf || mproc_queue_create(&small_q, nullptr) != 0 ||
      mproc_queue_create(&big_q, nullptr) != 0 || mproc_lock_create(&lock) != 0)
    bench_die("setup", 0);
  std::string n64 = mq_name + "-64", n1m = mq_name + "-" + std::to_string(kMiB);
  bip::message_queue::remove(n64.c_str());
  bip::message_queue::remove(n1m.c_str());
  {
    bip::message_queue q64(bip::create_only, n64.c_str(), 1024, 64);
    bip::message_queue q1m(bip::create_only, n1m.c_str(), 16, kMiB);
    double med[3];
    void (*const small[])(int) = {mproc_64, boost_64};
    compare(small, 2, 1000000, rounds, med);
    report_rate("Queue 64 B, 1 -> 1 process", "queue-64-boost", med[0], med[1],
                0);
    void (*const big[])(int) = {mproc_1m, boost_1m};
    compare(big, 2, 2000, rounds, med);
    report_rate("Queue 1 MiB, 1 -> 1 process", "queue-1m-boost", med[0], med[1],
                double(kMiB));

    void *mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
      bench_die("mmap", 0);
    bmutex = new (mem) bip::interprocess_mutex;
    robust =
        reinterpret_cast<pthread_mutex_t *>(static_cast<char *>(mem) + 2048);
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(robust, &at);
    void (*const locks[])(int) = {lock_loop, boost_loop, robust_loop};
    compare(locks, 3, 10000000, rounds, med);
    std::printf("Lock acquire+release, uncontended\n"
                "  %-36s %10.1f ns\n  %-36s %10.1f ns\n  %-36s %10.1f ns\n"
                "  mproc / boost %.2fx (target <= 1.5x), mproc / robust "
                "%.2fx (target <= 1.3x)\n",
                "mproc_lock", med[0] * 1e9, "boost interprocess_mutex",
                med[1] * 1e9, "robust pshared pthread_mutex", med[2] * 1e9,
                med[0] / med[1], med[0] / med[2]);
    bench_record("lock-boost", "mproc_lock", med[0] * 1e9,
                 "boost interprocess_mutex", med[1] * 1e9, "ns");
    bench_record("lock-robust", "mproc_lock", med[0] * 1e9,
                 "robust pshared pthread_mutex", med[2] * 1e9, "ns");
  }
  bip::message_queue::remove(n64.c_str());
  bip::message_queue::remove(n1m.c_str());
  mproc_queue_destroy(&small_q);
  mproc_queue_destroy(&big_q);
  mproc_lock_destroy(&lock);
  return 0;
}
