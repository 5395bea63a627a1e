// SPDX-License-Identifier: GPL-2.0
/* libarchive, loaded on first use: see archive_dl.h. */
#include <dlfcn.h>
#include <stdbool.h>
#include "archive_dl.h"
#include "oci_image.h"

/*
 * The soname libarchive-dev links against (Debian's libarchive13); a
 * build against another fails hbx_archive_load() with dlerror()'s words.
 */
#define HBX_ARCHIVE_SONAME "libarchive.so.13"

#define HBX_ARCHIVE_DEFINE(f) typeof(f) *sym_##f;
HBX_ARCHIVE_SYMBOLS(HBX_ARCHIVE_DEFINE)
#undef HBX_ARCHIVE_DEFINE

int hbx_archive_load(char *err)
{
	static bool loaded;
	void *lib;

	if (loaded)
		return 0;
	/* Never unloaded: the pointers live as long as hbx. */
	lib = dlopen(HBX_ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		oci_seterr(err, "cannot load libarchive, which reads images and layer tars"
			   " (install libarchive13): %s", dlerror());
		return -1;
	}
#define HBX_ARCHIVE_RESOLVE(f)							\
	sym_##f = (typeof(f) *)dlsym(lib, #f);					\
	if (!sym_##f) {								\
		oci_seterr(err, "%s has no %s: %s", HBX_ARCHIVE_SONAME, #f,	\
			   dlerror());						\
		dlclose(lib);							\
		return -1;							\
	}
	HBX_ARCHIVE_SYMBOLS(HBX_ARCHIVE_RESOLVE)
#undef HBX_ARCHIVE_RESOLVE
	loaded = true;
	return 0;
}
