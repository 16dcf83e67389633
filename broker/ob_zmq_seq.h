/* ob_zmq_seq.h: sequence frames of ZeroMQ senders, and the table that finds
 * the messages that never arrived.
 *
 * Why: libzmq <= 4.3.5 can discard what the kernel still holds for an ipc://
 * connection whose sender disconnects while the broker's inbound pipe is at
 * its high-water mark (zeromq/libzmq issue 4660; README, "Delivery
 * guarantees").  Nothing inside the broker can see those bytes, so senders
 * number their messages and the broker counts the numbers that are missing.
 *
 * The frame (wire format in ob_zmq.h), 24 bytes, integers little-endian:
 *
 *   offset size  meaning
 *      0     4   magic 00 'O' 'B' 'Q'.  A protobuf body never starts with a
 *                zero byte (field number 0 does not exist), so the frame
 *                cannot be mistaken for a body or an encoding name.
 *      4     1   version, 1
 *      5     1   flags: bit 0 END (see below); other bits 0
 *      6     2   0
 *      8     8   sender id: random, drawn when the sender opens; not 0
 *     16     8   sequence number: 0 for the sender's first message, then +1
 *                per message; a resend keeps the number of the original
 *
 * END: the sender is closing and has sent `seq` messages (0 .. seq-1).  The
 * frame is then the whole message.  Senders send it over a fresh connection,
 * because the tail of the old one is exactly what may be lost.
 *
 * The set frame, 32 bytes, only in answers (ob_zmq.h, batches): the same
 * header with flags bit 1 SET, the sender id, then a base number (8 bytes)
 * and a 64-bit mask (8 bytes): the answer that follows is the answer to
 * every number base + i whose bit i is set.  It stands for a run of
 * identical "all accepted" answers.
 *
 * The table, per receiving thread (not thread-safe): one entry per sender,
 * bounded (least recently heard evicted), entries expire after ttl.  Each
 * keeps the highest number accounted and a window of OB_ZSEQ_WINDOW bits,
 * one per number below it: seen or not yet.  So:
 *
 *   number above the highest     the numbers skipped enter the window unseen
 *   unseen number in the window  reordered (it came late, nothing lost)
 *   seen number in the window    duplicate (e.g. an acknowledged resend)
 *   number below the window      reordered (late; it was counted lost when
 *                                it left the window unseen)
 *   unseen number leaving the window, or still unseen when the sender
 *   expires, is evicted, or has closed (END) and the receiver went idle;
 *   and a closed sender's numbers above the highest heard:
 *                                lost
 *
 * An END is final only once the receiver found every socket empty at least
 * OB_ZSEQ_END_GRACE_NS after the sender's last message: messages of the old
 * connection may still wait in libzmq's queues behind the END, which came on
 * a new one.  The first number heard from an unknown sender starts its
 * accounting (after a broker restart a sender goes on with its numbers;
 * what the previous broker had is not known here).
 */
#ifndef OB_ZMQ_SEQ_H
#define OB_ZMQ_SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OB_ZSEQ_FRAME_LEN 24
#define OB_ZSEQ_VERSION 1
#define OB_ZSEQ_FLAG_END 0x01
#define OB_ZSEQ_FLAG_SET 0x02
#define OB_ZSEQ_SET_LEN 32
#define OB_ZSEQ_WINDOW 512                    /* numbers below the highest, in bits */
#define OB_ZSEQ_END_GRACE_NS 500000000LL      /* see above */

struct ob_zseq_frame {
    uint64_t sender;
    uint64_t seq;
    uint8_t flags;
};

/* 1: p is a valid sequence frame (out filled); 0: it is not one (no magic);
 * -1: it starts with the magic but is not a version-1 frame of 24 bytes with
 * a non-zero sender and known flags. */
int ob_zseq_parse(const void *p, size_t n, struct ob_zseq_frame *out);
void ob_zseq_encode(uint8_t out[OB_ZSEQ_FRAME_LEN], const struct ob_zseq_frame *f);
/* The set frame for sender: numbers base + i, bit i of mask. */
void ob_zseq_encode_set(uint8_t out[OB_ZSEQ_SET_LEN], uint64_t sender, uint64_t base,
                        uint64_t mask);
/* Whether an answer frame starts a group: a valid sequence or set frame. */
bool ob_zseq_starts_group(const void *p, size_t n);

struct ob_zseq_counts {
    uint64_t lost, duplicate, reordered;
};

struct ob_zseq;

/* max_senders >= 1; ttl_ns > 0: a sender not heard for that long is
 * forgotten (its unseen numbers counted lost).  Returns 0 or -ENOMEM. */
int ob_zseq_create(size_t max_senders, int64_t ttl_ns, struct ob_zseq **out);
void ob_zseq_destroy(struct ob_zseq *t); /* NULL ok */

/* Accounts one frame that arrived on endpoint (the caller's index, reported
 * back with losses) at now_ns (monotonic).  What it reveals is added to *c;
 * *evicted is set when a sender had to be forgotten to make room (its losses
 * are in *c as well). */
void ob_zseq_observe(struct ob_zseq *t, unsigned endpoint, const struct ob_zseq_frame *f,
                     int64_t now_ns, struct ob_zseq_counts *c, bool *evicted);

/* Called by tick for every sender found to have lost messages. */
typedef void ob_zseq_loss_fn(void *arg, unsigned endpoint, uint64_t sender, uint64_t lost);

/* Expires senders not heard for ttl and, when idle (the receiver found every
 * socket empty just now), finalizes closed senders past the grace.  Calls fn
 * for each loss found. */
void ob_zseq_tick(struct ob_zseq *t, int64_t now_ns, bool idle, ob_zseq_loss_fn *fn, void *arg);

/* Senders in the table, and of those closed ones waiting to be finalized
 * (the receiver polls more often while there are any). */
size_t ob_zseq_senders(const struct ob_zseq *t);
size_t ob_zseq_pending_ends(const struct ob_zseq *t);

#endif
