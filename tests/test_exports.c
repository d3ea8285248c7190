/* The ABI surface: libactor.so exports exactly the functions the public
 * header declares (all actor_* / addr_*), and its soname is libactor.so.1.
 * Reads the library's ELF dynamic symbol table directly. */
#include "testutil.h"

#include <ctype.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ACTOR_LIB_PATH
#error "ACTOR_LIB_PATH must be defined by the build"
#endif
#ifndef ACTOR_HEADER_PATH
#error "ACTOR_HEADER_PATH must be defined by the build"
#endif

#define MAXSYMS 512

struct names {
    char *v[MAXSYMS];
    int n;
};

static void names_add(struct names *ns, const char *s, size_t len)
{
    for (int i = 0; i < ns->n; i++)
        if (strlen(ns->v[i]) == len && strncmp(ns->v[i], s, len) == 0)
            return;
    if (ns->n < MAXSYMS)
        ns->v[ns->n++] = strndup(s, len);
}

static int names_has(const struct names *ns, const char *s)
{
    for (int i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i], s) == 0)
            return 1;
    return 0;
}

static void names_free(struct names *ns)
{
    for (int i = 0; i < ns->n; i++)
        free(ns->v[i]);
    ns->n = 0;
}

/* Functions declared with ACTOR_API in the header. */
static void header_functions(struct names *out)
{
    FILE *f = fopen(ACTOR_HEADER_PATH, "r");
    if (f == NULL)
        fail_msg("cannot open %s", ACTOR_HEADER_PATH);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)size + 1);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    for (char *p = text; (p = strstr(p, "ACTOR_API")) != NULL; p += 9) {
        /* Skip the macro's own definitions. */
        char *line = p;
        while (line > text && line[-1] != '\n')
            line--;
        if (*line == '#')
            continue;
        char *paren = strchr(p, '(');
        char *semi = strchr(p, ';');
        if (paren == NULL || (semi != NULL && semi < paren))
            continue;
        char *end = paren;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        char *start = end;
        while (start > p && (isalnum((unsigned char)start[-1]) || start[-1] == '_'))
            start--;
        if (end > start)
            names_add(out, start, (size_t)(end - start));
    }
    free(text);
}

struct elf_info {
    struct names exported;
    char soname[256];
};

static void read_elf(const char *path, struct elf_info *info)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        fail_msg("cannot open %s", path);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    assert_true(map != MAP_FAILED);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)map;
    assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
    assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(map + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type == SHT_DYNSYM) {
            const Elf64_Sym *syms = (const Elf64_Sym *)(map + sh[i].sh_offset);
            const char *str = (const char *)(map + sh[sh[i].sh_link].sh_offset);
            size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
            for (size_t k = 0; k < n; k++) {
                int bind = ELF64_ST_BIND(syms[k].st_info);
                int type = ELF64_ST_TYPE(syms[k].st_info);
                if (syms[k].st_shndx == SHN_UNDEF || syms[k].st_shndx == SHN_ABS)
                    continue;
                if (bind != STB_GLOBAL && bind != STB_WEAK)
                    continue;
                if (type != STT_FUNC && type != STT_OBJECT && type != STT_TLS &&
                    type != STT_GNU_IFUNC)
                    continue;
                const char *name = str + syms[k].st_name;
                names_add(&info->exported, name, strlen(name));
            }
        } else if (sh[i].sh_type == SHT_DYNAMIC) {
            const Elf64_Dyn *dyn = (const Elf64_Dyn *)(map + sh[i].sh_offset);
            const char *str = (const char *)(map + sh[sh[i].sh_link].sh_offset);
            for (size_t k = 0; k < sh[i].sh_size / sizeof(Elf64_Dyn); k++)
                if (dyn[k].d_tag == DT_SONAME)
                    snprintf(info->soname, sizeof info->soname, "%s", str + dyn[k].d_un.d_val);
        }
    }
    munmap(map, (size_t)st.st_size);
}

static void exports_match_header(void **state)
{
    (void)state;
    struct names hdr = {0};
    struct elf_info info = {0};
    header_functions(&hdr);
    read_elf(ACTOR_LIB_PATH, &info);
    assert_true(hdr.n >= 56); /* the header declares the whole v1 ABI */
    assert_true(info.exported.n > 0);

    int bad = 0;
    for (int i = 0; i < info.exported.n; i++) {
        const char *s = info.exported.v[i];
        if (strncmp(s, "actor_", 6) != 0 && strncmp(s, "addr_", 5) != 0) {
            fprintf(stderr, "exported without the actor_/addr_ prefix: %s\n", s);
            bad++;
        } else if (!names_has(&hdr, s)) {
            fprintf(stderr, "exported but not declared in actor.h: %s\n", s);
            bad++;
        }
    }
    for (int i = 0; i < hdr.n; i++)
        if (!names_has(&info.exported, hdr.v[i])) {
            fprintf(stderr, "declared in actor.h but not exported: %s\n", hdr.v[i]);
            bad++;
        }
    names_free(&hdr);
    names_free(&info.exported);
    if (bad)
        fail_msg("%d mismatch(es) between the exported symbols and actor.h", bad);
}

static void soname_is_v1(void **state)
{
    (void)state;
    struct elf_info info = {0};
    read_elf(ACTOR_LIB_PATH, &info);
    names_free(&info.exported);
    assert_string_equal(info.soname, "libactor.so.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(exports_match_header),
        TU_TEST(soname_is_v1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
