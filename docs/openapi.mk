# docs/openapi.mk - compile docs/openapi.json into the binary for
# GET /openapi.json (service/handlers_ops.c references embed_openapi).
# Included at the end of the Makefile:  include docs/openapi.mk
# Same technique as tools/embed.sh (POSIX sh, od, awk); the array gets a
# trailing NUL not counted in its length.

OPENAPI_JSON := docs/openapi.json
OPENAPI_OBJ := $(BUILD)/gen/openapi.o

$(BUILD)/gen/openapi.c: $(OPENAPI_JSON) docs/openapi.mk
	@mkdir -p $(dir $@)
	@{ printf '/* Generated from %s by docs/openapi.mk: do not edit. */\n' \
		'$(OPENAPI_JSON)'; \
	printf '#include "embed.h"\n\n'; \
	printf 'extern const struct embed_file embed_openapi;\n'; \
	printf 'static const unsigned char openapi_data[] = {\n'; \
	od -An -v -tu1 $(OPENAPI_JSON) | \
		awk '{ for (i = 1; i <= NF; i++) printf "%s,", $$i; printf "\n" }'; \
	printf '0 };\n'; \
	printf 'const struct embed_file embed_openapi = { "openapi.json", 0, '; \
	printf 'openapi_data, sizeof(openapi_data) - 1 };\n'; } > $@.tmp
	@mv $@.tmp $@

$(OPENAPI_OBJ): $(BUILD)/gen/openapi.c
	$(CC) $(CFLAGS_ALL) -Iservice -c $< -o $@

# Linked as an object (not through libsvc.a): a weak reference does not
# pull a member out of an archive.
$(BIN): $(OPENAPI_OBJ)
