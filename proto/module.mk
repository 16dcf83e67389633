# protoc-c: proto/**/*.proto -> $(BUILD)/gen/**/*.pb-c.[ch].  Nothing generated is committed.
PROTO_FILES := $(shell find proto -name '*.proto' | sort)
PROTO_GEN_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTO_FILES))
PROTO_GEN_H := $(PROTO_GEN_C:.c=.h)
PROTO_OBJS  := $(patsubst $(BUILD)/gen/%.c,$(BUILD)/gen/%.o,$(PROTO_GEN_C))
GEN_HDRS    += $(PROTO_GEN_H)
ALL_OBJS    += $(PROTO_OBJS)

# One protoc-c run produces all of them (grouped target).
$(PROTO_GEN_C) $(PROTO_GEN_H) &: $(PROTO_FILES)
	@mkdir -p $(BUILD)/gen
	$(Q)$(PROTOC_C) -Iproto --c_out=$(BUILD)/gen $(PROTO_FILES)

# Generated code is not ours: compile it without the strict prototype warnings.
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c | $(GEN_HDRS)
	$(Q)$(CC) $(CPPFLAGS) $(PBC_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -Wno-unused-parameter -MMD -MP -c $< -o $@
