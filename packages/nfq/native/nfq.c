/*
 * @p2pwall/nfq: one NFQUEUE queue, read in batches.
 *
 * On each wake-up of the netlink socket the queue is drained (recv with MSG_DONTWAIT until EAGAIN,
 * at most maxBatch packets or until the arena is full) straight into one reused arena; per packet
 * only numbers are recorded (offset and length of its bytes in the arena, id, mark, original
 * length, hw protocol) in typed arrays JavaScript shares. Then one JavaScript call for the whole
 * batch, which writes verdicts and marks into two more shared arrays; right after it returns all
 * verdicts go to the kernel in one send (runs of equal verdict and mark as one VERDICT_BATCH),
 * before the next read, so no packet waits. Nothing is allocated per packet.
 *
 * Message building and parsing use libnetfilter_queue's nfq_nlmsg_* functions; the socket is a
 * plain netlink socket (libmnl's headers are not needed).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <node_api.h>
#include <uv.h>

/* The shared Uint32 arrays, each maxBatch long, one after the other in one ArrayBuffer. */
enum {
  SLOT_OFFSET,
  SLOT_LENGTH,
  SLOT_ORIGINAL_LENGTH,
  SLOT_MARK,
  SLOT_ID,
  SLOT_HW_PROTOCOL,
  SLOT_VERDICT,
  SLOT_VERDICT_MARK,
  SLOT_ARRAYS
};

/* What verdicts[i] holds until JavaScript answers: not a netfilter verdict. */
#define UNANSWERED 0xffffffffu
/* Room for a packet message's headers and attributes besides the copied bytes (measured ~100). */
#define MESSAGE_HEADROOM 1024
/*
 * Room for every attribute type nfq_nlmsg_parse may fill: the library indexes the table by its
 * own NFQA_MAX, which is newer than the installed header's (NFQA_VLAN, NFQA_L2HDR,
 * NFQA_PRIORITY, ...): a table sized by the header's NFQA_MAX overflows on such packets.
 */
#define ATTRIBUTE_TABLE 128
/* One verdict message: nlmsghdr + nfgenmsg + verdict attribute + mark attribute. */
#define VERDICT_MESSAGE_BYTES 64

typedef struct {
  double packets, batches, largest_batch, enobufs, receive_errors, verdict_send_errors,
      verdict_errors, unanswered, truncated, callback_errors;
} stats_t;

typedef struct queue {
  napi_env env;
  uv_poll_t poll;
  int fd;
  uint32_t queue_number;
  uint32_t max_batch;
  uint32_t copy_range;
  uint32_t default_verdict;
  int polling;    /* uv_poll started */
  int open;       /* bound, socket open */
  int poll_closed;/* uv_close finished (or never started) */
  int finalized;  /* the JavaScript handle is gone */
  int in_batch;   /* inside the JavaScript call: close() then only marks it for after */
  int close_requested;
  uint8_t *arena;
  size_t arena_size;
  uint32_t *slots[SLOT_ARRAYS];
  char *send_buffer;
  napi_ref self;  /* strong while open: the handle must outlive the poll */
  napi_ref on_batch;
  napi_ref arena_ref;
  napi_ref slots_ref;
  napi_async_context async_context;
  stats_t stats;
  int last_verdict_errno;
} queue_t;

static void throw_errno(napi_env env, const char *what, int err) {
  char code[32];
  char message[256];
  snprintf(code, sizeof code, "%s", err == EPERM ? "EPERM" : err == EBUSY ? "EBUSY" : err == EOPNOTSUPP ? "EOPNOTSUPP" : err == ENODEV ? "ENODEV" : "ERRNO");
  snprintf(message, sizeof message, "%s: %s (errno %d)", what, strerror(err), err);
  napi_value error, code_value, message_value, errno_value;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error);
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
}

static void put_u32_attr(struct nlmsghdr *nlh, uint16_t type, uint32_t value_be) {
  struct nlattr *attr = (struct nlattr *)((char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));
  attr->nla_type = type;
  attr->nla_len = NLA_HDRLEN + sizeof value_be;
  memcpy((char *)attr + NLA_HDRLEN, &value_be, sizeof value_be);
  nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(attr->nla_len);
}

static int send_all(int fd, const char *buffer, size_t length) {
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  for (;;) {
    ssize_t sent = sendto(fd, buffer, length, 0, (struct sockaddr *)&kernel, sizeof kernel);
    if (sent >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

/*
 * Sends one config message with NLM_F_ACK and waits for its answer. Packet messages that arrive
 * meanwhile (possible only between bind and the answer) get the default verdict at once.
 */
static int config_request(queue_t *q, struct nlmsghdr *nlh) {
  static uint32_t sequence = 1;
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = __atomic_add_fetch(&sequence, 1, __ATOMIC_RELAXED);
  int err = send_all(q->fd, (char *)nlh, nlh->nlmsg_len);
  if (err) return err;
  /* The arena: a packet message may be as long as copyRange and more. */
  char *buffer = (char *)q->arena;
  for (;;) {
    ssize_t n = recv(q->fd, buffer, q->arena_size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) { q->stats.enobufs++; continue; }
      return errno;
    }
    int remaining = (int)n; /* signed, as in read_batch */
    for (struct nlmsghdr *m = (struct nlmsghdr *)buffer; NLMSG_OK(m, remaining); m = NLMSG_NEXT(m, remaining)) {
      if (m->nlmsg_type == NLMSG_ERROR && m->nlmsg_seq == nlh->nlmsg_seq) {
        struct nlmsgerr *answer = NLMSG_DATA(m);
        return -answer->error;
      }
      if (m->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
        struct nlattr *attrs[ATTRIBUTE_TABLE] = {0};
        if (nfq_nlmsg_parse(m, attrs) < 0 || !attrs[NFQA_PACKET_HDR]) continue;
        struct nfqnl_msg_packet_hdr *header = (struct nfqnl_msg_packet_hdr *)((char *)attrs[NFQA_PACKET_HDR] + NLA_HDRLEN);
        char verdict_buffer[VERDICT_MESSAGE_BYTES] __attribute__((aligned(8)));
        struct nlmsghdr *verdict = nfq_nlmsg_put(verdict_buffer, NFQNL_MSG_VERDICT, q->queue_number);
        nfq_nlmsg_verdict_put(verdict, ntohl(header->packet_id), q->default_verdict);
        if (send_all(q->fd, verdict_buffer, verdict->nlmsg_len)) q->stats.verdict_send_errors++;
        q->stats.unanswered++;
      }
    }
  }
}

static int configure(queue_t *q, uint8_t command) {
  char buffer[256] __attribute__((aligned(8)));
  struct nlmsghdr *nlh = nfq_nlmsg_put(buffer, NFQNL_MSG_CONFIG, q->queue_number);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, command);
  return config_request(q, nlh);
}

/* Queue parameters and flags in one message: the kernel checks the flags before applying any. */
static int configure_queue(queue_t *q, uint32_t max_length, uint32_t flags, uint32_t mask) {
  char buffer[256] __attribute__((aligned(8)));
  struct nlmsghdr *nlh = nfq_nlmsg_put(buffer, NFQNL_MSG_CONFIG, q->queue_number);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)q->copy_range);
  if (max_length) nfq_nlmsg_cfg_put_qmaxlen(nlh, max_length);
  put_u32_attr(nlh, NFQA_CFG_MASK, htonl(mask));
  put_u32_attr(nlh, NFQA_CFG_FLAGS, htonl(flags));
  return config_request(q, nlh);
}

static void close_socket(queue_t *q) {
  if (!q->open) return;
  q->open = 0;
  /* Unbinding frees the queue for another process at once; closing the socket would too. */
  configure(q, NFQNL_CFG_CMD_UNBIND);
  close(q->fd);
  q->fd = -1;
}

static void free_queue(queue_t *q) {
  free(q->send_buffer);
  free(q);
}

static void on_poll_closed(uv_handle_t *handle) {
  queue_t *q = handle->data;
  q->poll_closed = 1;
  if (q->finalized) free_queue(q);
}

static void cleanup_hook(void *data);

static void stop_and_close(queue_t *q) {
  napi_remove_env_cleanup_hook(q->env, cleanup_hook, q);
  if (q->polling) {
    uv_poll_stop(&q->poll);
    q->polling = 0;
  }
  if (!uv_is_closing((uv_handle_t *)&q->poll) && !q->poll_closed) uv_close((uv_handle_t *)&q->poll, on_poll_closed);
  close_socket(q);
  if (q->self) {
    napi_delete_reference(q->env, q->self);
    q->self = NULL;
  }
}

static int verdict_is_valid(uint32_t verdict) {
  return verdict == NF_DROP || verdict == NF_ACCEPT || verdict == NF_REPEAT;
}

/*
 * All verdicts of the batch in one send. A run of packets with the same verdict and mark is one
 * VERDICT_BATCH for the run's last id: the kernel applies it to every queued id up to that one,
 * which are exactly the run's packets, because everything before was answered earlier in the
 * same buffer (the kernel handles the messages in order) or in an earlier batch.
 */
static void send_verdicts(queue_t *q, uint32_t count) {
  uint32_t *verdicts = q->slots[SLOT_VERDICT];
  uint32_t *marks = q->slots[SLOT_VERDICT_MARK];
  uint32_t *ids = q->slots[SLOT_ID];
  for (uint32_t i = 0; i < count; i++) {
    if (!verdict_is_valid(verdicts[i])) {
      verdicts[i] = q->default_verdict;
      marks[i] = q->slots[SLOT_MARK][i];
      q->stats.unanswered++;
    }
  }
  char *cursor = q->send_buffer;
  for (uint32_t start = 0; start < count;) {
    uint32_t end = start + 1;
    while (end < count && verdicts[end] == verdicts[start] && marks[end] == marks[start]) end++;
    struct nlmsghdr *nlh = nfq_nlmsg_put(cursor, end - start > 1 ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, q->queue_number);
    nfq_nlmsg_verdict_put(nlh, (int)ids[end - 1], (int)verdicts[start]);
    nfq_nlmsg_verdict_put_mark(nlh, marks[start]);
    cursor += NLMSG_ALIGN(nlh->nlmsg_len);
    start = end;
  }
  int err = send_all(q->fd, q->send_buffer, (size_t)(cursor - q->send_buffer));
  if (err) {
    /* The packets stay queued until the queue closes (the kernel then drops them): counted. */
    q->stats.verdict_send_errors += count;
    q->last_verdict_errno = err;
  }
}

static void record_packet(queue_t *q, uint32_t i, struct nlattr **attrs) {
  struct nfqnl_msg_packet_hdr *header = (struct nfqnl_msg_packet_hdr *)((char *)attrs[NFQA_PACKET_HDR] + NLA_HDRLEN);
  uint32_t length = 0, offset = 0;
  if (attrs[NFQA_PAYLOAD]) {
    offset = (uint32_t)((uint8_t *)attrs[NFQA_PAYLOAD] + NLA_HDRLEN - q->arena);
    length = attrs[NFQA_PAYLOAD]->nla_len - NLA_HDRLEN;
  }
  uint32_t original = length;
  if (attrs[NFQA_CAP_LEN]) {
    uint32_t value;
    memcpy(&value, (char *)attrs[NFQA_CAP_LEN] + NLA_HDRLEN, sizeof value);
    original = ntohl(value);
    if (original > length) q->stats.truncated++;
  }
  uint32_t mark = 0;
  if (attrs[NFQA_MARK]) {
    memcpy(&mark, (char *)attrs[NFQA_MARK] + NLA_HDRLEN, sizeof mark);
    mark = ntohl(mark);
  }
  q->slots[SLOT_OFFSET][i] = offset;
  q->slots[SLOT_LENGTH][i] = length;
  q->slots[SLOT_ORIGINAL_LENGTH][i] = original;
  q->slots[SLOT_MARK][i] = mark;
  q->slots[SLOT_ID][i] = ntohl(header->packet_id);
  q->slots[SLOT_HW_PROTOCOL][i] = ntohs(header->hw_protocol);
  q->slots[SLOT_VERDICT][i] = UNANSWERED;
  q->slots[SLOT_VERDICT_MARK][i] = mark;
}

/* Reads what the socket holds into the arena; returns the number of packets recorded. */
static uint32_t read_batch(queue_t *q) {
  uint32_t count = 0;
  size_t position = 0;
  size_t largest_message = q->copy_range + MESSAGE_HEADROOM;
  while (count < q->max_batch && q->arena_size - position >= largest_message) {
    ssize_t n = recv(q->fd, q->arena + position, q->arena_size - position, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* The kernel could not deliver some packets (socket buffer full): they are lost. */
      if (errno == ENOBUFS) { q->stats.enobufs++; continue; }
      if (errno != EAGAIN && errno != EWOULDBLOCK) q->stats.receive_errors++;
      break;
    }
    if (n == 0) break;
    /* Signed: the last message of a read may be unaligned (the payload is not padded), and
     * NLMSG_NEXT then takes the remainder below zero, which NLMSG_OK must see as the end. */
    int remaining = (int)n;
    for (struct nlmsghdr *m = (struct nlmsghdr *)(q->arena + position); NLMSG_OK(m, remaining) && count < q->max_batch; m = NLMSG_NEXT(m, remaining)) {
      if (m->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *answer = NLMSG_DATA(m);
        if (answer->error) {
          q->stats.verdict_errors++;
          q->last_verdict_errno = -answer->error;
        }
        continue;
      }
      if (m->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) continue;
      struct nlattr *attrs[ATTRIBUTE_TABLE] = {0};
      if (nfq_nlmsg_parse(m, attrs) < 0 || !attrs[NFQA_PACKET_HDR]) {
        q->stats.receive_errors++;
        continue;
      }
      record_packet(q, count++, attrs);
    }
    position += ((size_t)n + 7) & ~(size_t)7;
  }
  return count;
}

static void call_on_batch(queue_t *q, uint32_t count) {
  napi_env env = q->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback, self, argument, result;
  napi_get_reference_value(env, q->on_batch, &callback);
  napi_get_reference_value(env, q->self, &self);
  napi_create_uint32(env, count, &argument);
  q->in_batch = 1;
  napi_status status = napi_make_callback(env, q->async_context, self, callback, 1, &argument, &result);
  q->in_batch = 0;
  napi_value exception = NULL;
  if (status == napi_pending_exception) {
    q->stats.callback_errors++;
    napi_get_and_clear_last_exception(env, &exception);
  }
  /* Answer first (unanswered packets get the default verdict), then report the exception. */
  send_verdicts(q, count);
  if (exception) napi_fatal_exception(env, exception);
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  queue_t *q = handle->data;
  (void)events;
  if (!q->open) return;
  if (status < 0) {
    q->stats.receive_errors++;
    return;
  }
  uint32_t count = read_batch(q);
  if (count == 0) return;
  q->stats.packets += count;
  q->stats.batches++;
  if (count > q->stats.largest_batch) q->stats.largest_batch = count;
  call_on_batch(q, count);
  if (q->close_requested) stop_and_close(q);
}

static void finalize(napi_env env, void *data, void *hint) {
  queue_t *q = data;
  (void)hint;
  if (q->on_batch) napi_delete_reference(env, q->on_batch);
  if (q->arena_ref) napi_delete_reference(env, q->arena_ref);
  if (q->slots_ref) napi_delete_reference(env, q->slots_ref);
  if (q->async_context) napi_async_destroy(env, q->async_context);
  q->finalized = 1;
  if (q->poll_closed) free_queue(q);
}

static void cleanup_hook(void *data) {
  queue_t *q = data;
  if (q->polling) uv_poll_stop(&q->poll);
  q->polling = 0;
  close_socket(q);
}

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "@p2pwall/nfq: N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static uint32_t get_u32(napi_env env, napi_value object, const char *name, uint32_t fallback) {
  napi_value value;
  napi_valuetype type;
  uint32_t result = fallback;
  if (napi_get_named_property(env, object, name, &value) != napi_ok) return fallback;
  napi_typeof(env, value, &type);
  if (type == napi_number) napi_get_value_uint32(env, value, &result);
  return result;
}

static queue_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  size_t wanted = argc ? *argc : 0;
  if (napi_get_cb_info(env, info, argc ? argc : &wanted, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) {
    napi_throw_error(env, NULL, "@p2pwall/nfq: not a queue handle");
    return NULL;
  }
  return data;
}

/*
 * open(queue, options, onBatch, handle): binds the queue and starts reading. Options (validated by
 * the TypeScript wrapper): copyRange, maxLength, failOpen (0/1), gso (0/1), socketBufferBytes,
 * maxBatch, defaultVerdict. Returns { arena: Buffer, slots: ArrayBuffer }.
 */
static napi_value open_queue(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t queue_number;
  CHECK(napi_get_value_uint32(env, argv[0], &queue_number));
  napi_value options = argv[1];
  queue_t *q = calloc(1, sizeof *q);
  if (!q) {
    napi_throw_error(env, NULL, "@p2pwall/nfq: out of memory");
    return NULL;
  }
  q->env = env;
  q->fd = -1;
  q->poll_closed = 1;
  q->queue_number = queue_number;
  q->copy_range = get_u32(env, options, "copyRange", 4096);
  q->max_batch = get_u32(env, options, "maxBatch", 256);
  q->default_verdict = get_u32(env, options, "defaultVerdict", NF_ACCEPT);
  uint32_t max_length = get_u32(env, options, "maxLength", 0);
  uint32_t fail_open = get_u32(env, options, "failOpen", 0);
  uint32_t gso = get_u32(env, options, "gso", 0);
  uint32_t socket_buffer = get_u32(env, options, "socketBufferBytes", 0);
  q->arena_size = (size_t)q->max_batch * (((q->copy_range + MESSAGE_HEADROOM) + 7) & ~7u);
  q->send_buffer = malloc((size_t)q->max_batch * VERDICT_MESSAGE_BYTES);

  napi_value arena, slots, result, handle = argv[3];
  void *arena_data, *slots_data;
  if (!q->send_buffer || napi_create_buffer(env, q->arena_size, &arena_data, &arena) != napi_ok ||
      napi_create_arraybuffer(env, (size_t)q->max_batch * 4 * SLOT_ARRAYS, &slots_data, &slots) != napi_ok) {
    free_queue(q);
    napi_throw_error(env, NULL, "@p2pwall/nfq: cannot allocate the arena");
    return NULL;
  }
  q->arena = arena_data;
  for (int s = 0; s < SLOT_ARRAYS; s++) q->slots[s] = (uint32_t *)slots_data + (size_t)s * q->max_batch;

  q->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (q->fd < 0) {
    int err = errno;
    free_queue(q);
    throw_errno(env, "cannot open a netfilter netlink socket", err);
    return NULL;
  }
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(q->fd, (struct sockaddr *)&local, sizeof local) < 0) {
    int err = errno;
    close(q->fd);
    free_queue(q);
    throw_errno(env, "cannot bind the netlink socket", err);
    return NULL;
  }
  if (socket_buffer) {
    int size = (int)socket_buffer;
    /* SO_RCVBUFFORCE passes rmem_max (needs CAP_NET_ADMIN); SO_RCVBUF is capped by it. */
    if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  /* A full socket buffer must show as ENOBUFS on read, so losses are counted. */
  int no = 0;
  setsockopt(q->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &no, sizeof no);

  int err = configure(q, NFQNL_CFG_CMD_BIND);
  if (err) {
    close(q->fd);
    free_queue(q);
    throw_errno(env, "bind", err);
    return NULL;
  }
  q->open = 1;
  uint32_t flags = (fail_open ? NFQA_CFG_F_FAIL_OPEN : 0) | (gso ? NFQA_CFG_F_GSO : 0);
  err = configure_queue(q, max_length, flags, NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO);
  if (err) {
    close_socket(q);
    free_queue(q);
    throw_errno(env, "configure", err);
    return NULL;
  }

  if (napi_wrap(env, handle, q, finalize, NULL, NULL) != napi_ok) {
    close_socket(q);
    free_queue(q);
    napi_throw_error(env, NULL, "@p2pwall/nfq: cannot wrap the queue handle");
    return NULL;
  }
  /* From here the finalizer owns q. */
  napi_value resource_name;
  CHECK(napi_create_string_utf8(env, "p2pwall.nfq", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, handle, resource_name, &q->async_context));
  CHECK(napi_create_reference(env, handle, 1, &q->self));
  CHECK(napi_create_reference(env, argv[2], 1, &q->on_batch));
  CHECK(napi_create_reference(env, arena, 1, &q->arena_ref));
  CHECK(napi_create_reference(env, slots, 1, &q->slots_ref));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  q->poll.data = q;
  if (uv_poll_init(loop, &q->poll, q->fd) != 0) {
    close_socket(q);
    napi_throw_error(env, NULL, "@p2pwall/nfq: uv_poll_init failed");
    return NULL;
  }
  q->poll_closed = 0;
  uv_poll_start(&q->poll, UV_READABLE, on_readable);
  q->polling = 1;
  napi_add_env_cleanup_hook(env, cleanup_hook, q);

  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "arena", arena));
  CHECK(napi_set_named_property(env, result, "slots", slots));
  return result;
}

static napi_value close_queue(napi_env env, napi_callback_info info) {
  queue_t *q = unwrap(env, info, NULL, NULL);
  if (!q) return NULL;
  if (q->in_batch) q->close_requested = 1;
  else if (q->open) stop_and_close(q);
  return NULL;
}

/* pause()/resume(): stop and restart reading; the kernel keeps queueing (up to maxLength). */
static napi_value set_reading(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  queue_t *q = unwrap(env, info, &argc, argv);
  if (!q) return NULL;
  bool reading = false;
  napi_get_value_bool(env, argv[0], &reading);
  if (!q->open) return NULL;
  if (reading && !q->polling) {
    uv_poll_start(&q->poll, UV_READABLE, on_readable);
    q->polling = 1;
  } else if (!reading && q->polling) {
    uv_poll_stop(&q->poll);
    q->polling = 0;
  }
  return NULL;
}

static void set_number(napi_env env, napi_value object, const char *name, double value) {
  napi_value number;
  napi_create_double(env, value, &number);
  napi_set_named_property(env, object, name, number);
}

static napi_value get_stats(napi_env env, napi_callback_info info) {
  queue_t *q = unwrap(env, info, NULL, NULL);
  if (!q) return NULL;
  napi_value result;
  CHECK(napi_create_object(env, &result));
  set_number(env, result, "packets", q->stats.packets);
  set_number(env, result, "batches", q->stats.batches);
  set_number(env, result, "largestBatch", q->stats.largest_batch);
  set_number(env, result, "enobufs", q->stats.enobufs);
  set_number(env, result, "receiveErrors", q->stats.receive_errors);
  set_number(env, result, "verdictSendErrors", q->stats.verdict_send_errors);
  set_number(env, result, "verdictErrors", q->stats.verdict_errors);
  set_number(env, result, "lastVerdictErrno", q->last_verdict_errno);
  set_number(env, result, "unanswered", q->stats.unanswered);
  set_number(env, result, "truncated", q->stats.truncated);
  set_number(env, result, "callbackErrors", q->stats.callback_errors);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, open_queue, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_queue, NULL, NULL, NULL, napi_default, NULL},
      {"setReading", NULL, set_reading, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, get_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  napi_value constant;
  napi_create_uint32(env, NF_DROP, &constant);
  napi_set_named_property(env, exports, "DROP", constant);
  napi_create_uint32(env, NF_ACCEPT, &constant);
  napi_set_named_property(env, exports, "ACCEPT", constant);
  napi_create_uint32(env, NF_REPEAT, &constant);
  napi_set_named_property(env, exports, "REPEAT", constant);
  napi_create_uint32(env, UNANSWERED, &constant);
  napi_set_named_property(env, exports, "UNANSWERED", constant);
  napi_create_uint32(env, SLOT_ARRAYS, &constant);
  napi_set_named_property(env, exports, "SLOT_ARRAYS", constant);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
