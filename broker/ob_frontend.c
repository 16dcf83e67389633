/* ob_frontend.c: the names of the shared words (ob_frontend.h). */
#include "ob_frontend.h"

static const char *const frontend_names[OB_FE__COUNT] = {"http", "zmq", "grpc"};
static const char *const outcome_names[OB_OUT__COUNT] = {
    "ok", "partial", "malformed", "too_large", "unsupported", "overloaded",
};
static const char *const reason_names[OB_REASON__COUNT] = {
    "out_of_bounds", "duplicate", "limit", "malformed", "translation", "temporality",
    "type_conflict", "unsupported", "out_of_order",
};

static const char *const exemplar_drop_names[OB_EXDROP__COUNT] = {"invalid", "type", "memory"};

const char *ob_frontend_name(enum ob_frontend fe)
{
    return (unsigned)fe < OB_FE__COUNT ? frontend_names[fe] : "unknown";
}

const char *ob_outcome_name(enum ob_outcome o)
{
    return (unsigned)o < OB_OUT__COUNT ? outcome_names[o] : "unknown";
}

const char *ob_reason_name(enum ob_reason r)
{
    return (unsigned)r < OB_REASON__COUNT ? reason_names[r] : "unknown";
}

const char *ob_exemplar_drop_name(enum ob_exemplar_drop d)
{
    return (unsigned)d < OB_EXDROP__COUNT ? exemplar_drop_names[d] : "unknown";
}
