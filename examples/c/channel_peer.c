// A C11 peer of a Node.js channel (docs/channel-format.md, version 1), for Linux.
//
//   cc -std=c11 -O2 -o channel_peer channel_peer.c
//   ./channel_peer REQUESTS REPLIES
//
// Attaches to the channels named REQUESTS and REPLIES (a Node process created them), receives
// every message of REQUESTS and sends it back on REPLIES with "C:" in front, text as text and
// bytes as bytes, until REQUESTS has ended and is drained; then ends REPLIES. See
// examples/channel-c.js for the Node side.
//
// It follows the format's rules for any number of peers, with two simplifications an example may
// make: a lock it cannot take is polled (it never sets the lock's WAITERS bit, and never sleeps on
// the lock), and it is single-threaded (one lock token).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

// The header (docs/channel-format.md, "The header").
enum {
  MAGIC_AT = 0, VERSION_AT = 4, DATA_SIZE_AT = 8, CAPACITY_AT = 12,
  SEND_LOCK = 64, WRITE_AT = 128, FREE_AT = 132,
  RECEIVE_LOCK = 192, READ_AT = 256, TAKES_AT = 260,
  DATA_SEQ = 320, RECEIVERS_WAITING = 324,
  SPACE_SEQ = 384, SENDERS_WAITING = 388,
  ENDED_AT = 448,
  HEADER_SIZE = 512,
};
#define MAGIC 0x434d4853u
#define VERSION 1u
enum { KIND_TEXT = 1, KIND_BYTES = 2, KIND_PAD = 3 };

// The lock word (docs/channel-format.md, "Locks").
#define WAITERS (UINT64_C(1) << 62)
#define TOKEN_BITS (WAITERS - 1)
#define ABANDONED TOKEN_BITS
#define MARKS (UINT64_C(1) << 62)

struct channel {
  const char *name;
  uint8_t *base;
  uint32_t data_size; // D
  uint32_t capacity;
  int mark_fd;  // holds this process's liveness mark
  int probe_fd; // asks about others' marks (a description never sees its own locks)
};

static uint64_t token; // this thread's lock token

static void fail(const char *what) {
  perror(what);
  exit(1);
}

static _Atomic uint32_t *word32(struct channel *ch, uint32_t at) { return (_Atomic uint32_t *)(ch->base + at); }
static _Atomic uint64_t *word64(struct channel *ch, uint32_t at) { return (_Atomic uint64_t *)(ch->base + at); }

static long futex(void *word, int op, uint32_t value, const struct timespec *timeout) {
  return syscall(SYS_futex, word, op, value, timeout, NULL, 0); // shared: no FUTEX_PRIVATE_FLAG
}

static void pause_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

// ---- locks ----

static bool owner_alive(struct channel *ch, uint64_t owner) {
  struct flock probe = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = (off_t)(MARKS + owner), .l_len = 1};
  if (fcntl(ch->probe_fd, F_OFD_GETLK, &probe) != 0) return true; // cannot tell: alive
  return probe.l_type == F_WRLCK;
}

// Takes the lock at `at` if it is free or its owner died: 1 taken, 2 taken from a dead owner,
// 0 held by a live owner.
static int lock_try(struct channel *ch, uint32_t at) {
  _Atomic uint64_t *word = word64(ch, at);
  uint64_t seen = atomic_load(word);
  for (;;) {
    uint64_t owner = seen & TOKEN_BITS;
    int taken = 1;
    if (owner == token) return 0; // not recursive
    if (owner != 0) {
      if (owner != ABANDONED && owner_alive(ch, owner)) return 0;
      taken = 2;
    }
    // Keep WAITERS: a waiter still sleeps, and this unlock must wake it.
    if (atomic_compare_exchange_strong(word, &seen, token | (seen & WAITERS))) return taken;
  }
}

static void lock_take(struct channel *ch, uint32_t at) {
  while (lock_try(ch, at) == 0) pause_us(20);
}

static void lock_give(struct channel *ch, uint32_t at) {
  _Atomic uint64_t *word = word64(ch, at);
  uint64_t seen = atomic_load(word);
  while (!atomic_compare_exchange_weak(word, &seen, 0)) {
  }
  if (seen & WAITERS) futex(ch->base + at + 4, FUTEX_WAKE, 1, NULL); // sleepers wait on the upper half
}

// ---- attaching ----

static void attach(struct channel *ch, const char *name) {
  char path[300];
  snprintf(path, sizeof path, "/%s", name);
  ch->name = name;
  int fd = shm_open(path, O_RDWR, 0);
  if (fd < 0) fail("shm_open");
  struct stat st;
  if (fstat(fd, &st) != 0) fail("fstat");
  ch->base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (ch->base == MAP_FAILED) fail("mmap");
  ch->mark_fd = fd;
  ch->probe_fd = shm_open(path, O_RDWR, 0);
  if (ch->probe_fd < 0) fail("shm_open (probe)");
  for (int i = 0; i < 1000 && atomic_load(word32(ch, MAGIC_AT)) == 0; i++) pause_us(1000);
  ch->data_size = atomic_load(word32(ch, DATA_SIZE_AT));
  ch->capacity = atomic_load(word32(ch, CAPACITY_AT));
  if (atomic_load(word32(ch, MAGIC_AT)) != MAGIC || atomic_load(word32(ch, VERSION_AT)) != VERSION ||
      ch->data_size == 0 || ch->data_size > st.st_size - HEADER_SIZE || ch->data_size % 16 != 0 || ch->capacity + 16 > ch->data_size) {
    fprintf(stderr, "%s is not a channel of format version 1\n", name);
    exit(1);
  }
  // This thread's token is marked alive in the block before it ever goes into a lock word.
  struct flock mark = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)(MARKS + token), .l_len = 1};
  if (fcntl(ch->mark_fd, F_OFD_SETLK, &mark) != 0) fail("F_OFD_SETLK");
}

// ---- positions and frames ----

static uint32_t position(struct channel *ch, uint32_t at) {
  uint32_t p = atomic_load(word32(ch, at));
  if (p >= 2 * ch->data_size || p % 16 != 0) {
    fprintf(stderr, "channel %s is corrupt: position at %u holds %u\n", ch->name, at, p);
    exit(1);
  }
  return p;
}

static uint32_t advance(struct channel *ch, uint32_t p, uint32_t bytes) {
  uint32_t next = p + bytes;
  return next >= 2 * ch->data_size ? next - 2 * ch->data_size : next;
}

static uint32_t frame_length(uint32_t size) { return 16 + ((size + 15) & ~15u); }

static uint8_t *frame_at(struct channel *ch, uint32_t p) { return ch->base + HEADER_SIZE + p % ch->data_size; }

static uint32_t used(struct channel *ch, uint32_t write, uint32_t free) {
  return (write - free + 2 * ch->data_size) % (2 * ch->data_size);
}

static void corrupt(struct channel *ch, uint32_t at) {
  fprintf(stderr, "channel %s is corrupt at %u\n", ch->name, at);
  exit(1);
}

static void wake_if_waiting(struct channel *ch, uint32_t waiting_at, uint32_t seq_at) {
  if (atomic_load(word32(ch, waiting_at)) == 0) return;
  atomic_fetch_add(word32(ch, seq_at), 1);
  futex(ch->base + seq_at, FUTEX_WAKE, INT_MAX, NULL);
}

static void sleep_on(struct channel *ch, uint32_t seq_at, uint32_t seen) {
  // Woken, or 100 ms pass: look again either way (a peer may have died before its wake-up).
  struct timespec slice = {0, 100 * 1000 * 1000};
  futex(ch->base + seq_at, FUTEX_WAIT, seen, &slice);
}

// With the receive lock held: passes pads at READ (and, when `take`, copies the next message
// out); returns its size, or -1 when the channel is empty.
static long take_front(struct channel *ch, bool take, uint8_t *out, uint32_t *kind) {
  uint32_t write = position(ch, WRITE_AT), start = position(ch, READ_AT), read = start;
  long size = -1;
  if (used(ch, write, start) > ch->data_size) corrupt(ch, start);
  while (read != write) {
    uint8_t *frame = frame_at(ch, read);
    uint32_t at = read % ch->data_size, frame_kind, frame_size;
    memcpy(&frame_size, frame, 4);
    memcpy(&frame_kind, frame + 4, 4);
    // Every frame ends at or before WRITE: a hostile header must not send the reader astray.
    if (frame_kind == KIND_PAD) {
      if (ch->data_size - at > used(ch, write, read)) corrupt(ch, at);
      read = advance(ch, read, ch->data_size - at);
      continue;
    }
    if (!take) break;
    if ((frame_kind != KIND_TEXT && frame_kind != KIND_BYTES) || frame_size > ch->capacity ||
        frame_length(frame_size) > ch->data_size - at || frame_length(frame_size) > used(ch, write, read)) {
      corrupt(ch, at);
    }
    memcpy(out, frame + 16, frame_size);
    *kind = frame_kind;
    size = frame_size;
    read = advance(ch, read, frame_length(frame_size));
    break;
  }
  if (read != start) {
    atomic_store(word32(ch, READ_AT), read);
    atomic_fetch_add(word32(ch, TAKES_AT), 1);
    wake_if_waiting(ch, SENDERS_WAITING, SPACE_SEQ);
  }
  return size;
}

// With the send lock held: whether `bytes` from `write` are free, passing taken frames.
static bool has_room(struct channel *ch, uint32_t write, uint32_t bytes) {
  uint32_t free = position(ch, FREE_AT), read = position(ch, READ_AT);
  while (ch->data_size - used(ch, write, free) < bytes && free != read) {
    uint8_t *frame = frame_at(ch, free);
    uint32_t at = free % ch->data_size, kind, size;
    memcpy(&size, frame, 4);
    memcpy(&kind, frame + 4, 4);
    if (kind != KIND_PAD && ((kind != KIND_TEXT && kind != KIND_BYTES) || size > ch->capacity)) corrupt(ch, at);
    uint32_t length = kind == KIND_PAD ? ch->data_size - at : frame_length(size);
    if (length > used(ch, read, free) || length > ch->data_size - at) corrupt(ch, at);
    if (atomic_load(word64(ch, HEADER_SIZE + at + 8)) != 0) { // read in place
      if (lock_try(ch, HEADER_SIZE + at + 8) == 0) break;     // by a live reader
      lock_give(ch, HEADER_SIZE + at + 8);
    }
    free = advance(ch, free, length);
  }
  atomic_store(word32(ch, FREE_AT), free);
  return ch->data_size - used(ch, write, free) >= bytes;
}

static void write_header(struct channel *ch, uint32_t p, uint32_t size, uint32_t kind) {
  uint8_t *frame = frame_at(ch, p);
  memcpy(frame, &size, 4);
  memcpy(frame + 4, &kind, 4);
  memset(frame + 8, 0, 8); // the claim: free
}

// ---- send, receive, end ----

// With the send lock held: 1 sent, 0 no room, -1 ended.
static int send_locked(struct channel *ch, const uint8_t *message, uint32_t size, uint32_t kind) {
  if (atomic_load(word32(ch, ENDED_AT)) == 1) return -1;
  uint32_t write = position(ch, WRITE_AT), at = write % ch->data_size, frame = frame_length(size);
  if (frame > ch->data_size - at) {
    uint32_t pad = ch->data_size - at;
    if (!has_room(ch, write, frame <= at ? pad + frame : pad)) return 0;
    write_header(ch, write, pad - 16, KIND_PAD);
    write = advance(ch, write, pad);
    atomic_store(word32(ch, WRITE_AT), write);
    if (lock_try(ch, RECEIVE_LOCK) != 0) { // no receiver busy: pass the pad for them
      uint32_t ignored;
      take_front(ch, false, NULL, &ignored);
      lock_give(ch, RECEIVE_LOCK);
    } else { // a receiver is busy: wake the sleeping ones, whose last look may predate the pad
      wake_if_waiting(ch, RECEIVERS_WAITING, DATA_SEQ);
    }
  }
  if (!has_room(ch, write, frame)) return 0;
  memcpy(frame_at(ch, write) + 16, message, size);
  write_header(ch, write, size, kind);
  atomic_store(word32(ch, WRITE_AT), advance(ch, write, frame)); // published
  return 1;
}

static void channel_send(struct channel *ch, const uint8_t *message, uint32_t size, uint32_t kind) {
  if (size > ch->capacity) {
    fprintf(stderr, "a message of %u bytes is larger than channel %s can hold\n", size, ch->name);
    exit(1);
  }
  bool waiting = false;
  for (;;) {
    lock_take(ch, SEND_LOCK);
    uint32_t seq = atomic_load(word32(ch, SPACE_SEQ));
    int sent = send_locked(ch, message, size, kind);
    lock_give(ch, SEND_LOCK);
    if (sent != 0) {
      if (waiting) atomic_fetch_sub(word32(ch, SENDERS_WAITING), 1);
      if (sent < 0) {
        fprintf(stderr, "channel %s has ended\n", ch->name);
        exit(1);
      }
      wake_if_waiting(ch, RECEIVERS_WAITING, DATA_SEQ);
      return;
    }
    if (!waiting) { // counted before looking again: room given back from now on wakes us
      waiting = true;
      atomic_fetch_add(word32(ch, SENDERS_WAITING), 1);
      continue;
    }
    sleep_on(ch, SPACE_SEQ, seq);
  }
}

// The next message into `out` (capacity bytes); its size, or -1 once the channel has ended and
// is drained.
static long channel_receive(struct channel *ch, uint8_t *out, uint32_t *kind) {
  bool waiting = false;
  for (;;) {
    bool ended = atomic_load(word32(ch, ENDED_AT)) == 1; // before the ring
    uint32_t seq = atomic_load(word32(ch, DATA_SEQ));
    lock_take(ch, RECEIVE_LOCK);
    long size = take_front(ch, true, out, kind);
    lock_give(ch, RECEIVE_LOCK);
    if (size >= 0 || ended) {
      if (waiting) atomic_fetch_sub(word32(ch, RECEIVERS_WAITING), 1);
      return size;
    }
    if (!waiting) {
      waiting = true;
      atomic_fetch_add(word32(ch, RECEIVERS_WAITING), 1);
      continue;
    }
    sleep_on(ch, DATA_SEQ, seq);
  }
}

static void channel_end(struct channel *ch) {
  lock_take(ch, SEND_LOCK);
  atomic_store(word32(ch, ENDED_AT), 1);
  lock_give(ch, SEND_LOCK);
  atomic_fetch_add(word32(ch, DATA_SEQ), 1);
  futex(ch->base + DATA_SEQ, FUTEX_WAKE, INT_MAX, NULL);
  atomic_fetch_add(word32(ch, SPACE_SEQ), 1);
  futex(ch->base + SPACE_SEQ, FUTEX_WAKE, INT_MAX, NULL);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s REQUESTS REPLIES\n", argv[0]);
    return 2;
  }
  // The token: a socket's cookie, which the kernel never hands out twice.
  int socket_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  socklen_t length = sizeof token;
  if (socket_fd < 0 || getsockopt(socket_fd, SOL_SOCKET, SO_COOKIE, &token, &length) != 0) fail("SO_COOKIE");
  close(socket_fd);

  struct channel requests, replies;
  attach(&requests, argv[1]);
  attach(&replies, argv[2]);
  uint8_t *in = malloc(requests.capacity + 1), *out = malloc(replies.capacity + 2);
  if (!in || !out) fail("malloc");
  long count = 0, size;
  uint32_t kind;
  while ((size = channel_receive(&requests, in, &kind)) >= 0) {
    memcpy(out, "C:", 2);
    memcpy(out + 2, in, (size_t)size);
    channel_send(&replies, out, (uint32_t)size + 2, kind);
    count++;
  }
  channel_end(&replies);
  fprintf(stderr, "channel_peer: answered %ld messages\n", count);
  return 0;
}
