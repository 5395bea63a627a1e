/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libarchive, loaded when an image or a layer's tar is first read rather
 * than when hbx starts.  Linked, it brings a dozen libraries with it (ICU,
 * libxml2, libstdc++, the compressors), and every hbx command paid for
 * loading them: under emulation, with caches cold, `hbx --version` took
 * 0.58 s linked and takes 0.40 s so, on the path from a pull to a
 * container's first output that runs hbx twice.  The code calls
 * sym_archive_*, pointers of libarchive's own types; hbx_archive_load()
 * fills them all or says why it could not.
 */
#ifndef HBX_ARCHIVE_DL_H
#define HBX_ARCHIVE_DL_H

#include <archive.h>
#include <archive_entry.h>

/*
 * Every libarchive function hbx calls.  hbx does not link libarchive, so a
 * direct call fails to link, and a sym_ not listed here fails to compile.
 */
#define HBX_ARCHIVE_SYMBOLS(X) \
	X(archive_entry_clone) \
	X(archive_entry_filetype) \
	X(archive_entry_free) \
	X(archive_entry_gid) \
	X(archive_entry_hardlink) \
	X(archive_entry_mtime) \
	X(archive_entry_mtime_nsec) \
	X(archive_entry_pathname) \
	X(archive_entry_perm) \
	X(archive_entry_set_hardlink) \
	X(archive_entry_set_pathname) \
	X(archive_entry_set_perm) \
	X(archive_entry_size) \
	X(archive_entry_uid) \
	X(archive_entry_xattr_add_entry) \
	X(archive_entry_xattr_clear) \
	X(archive_entry_xattr_next) \
	X(archive_entry_xattr_reset) \
	X(archive_errno) \
	X(archive_error_string) \
	X(archive_read_data) \
	X(archive_read_data_block) \
	X(archive_read_free) \
	X(archive_read_new) \
	X(archive_read_next_header) \
	X(archive_read_open) \
	X(archive_read_open_filename) \
	X(archive_read_support_filter_all) \
	X(archive_read_support_filter_gzip) \
	X(archive_read_support_filter_zstd) \
	X(archive_read_support_format_raw) \
	X(archive_read_support_format_tar) \
	X(archive_set_error) \
	X(archive_write_close) \
	X(archive_write_data_block) \
	X(archive_write_disk_new) \
	X(archive_write_disk_set_options) \
	X(archive_write_finish_entry) \
	X(archive_write_free) \
	X(archive_write_header)

#define HBX_ARCHIVE_DECLARE(f) extern typeof(f) *sym_##f;
HBX_ARCHIVE_SYMBOLS(HBX_ARCHIVE_DECLARE)
#undef HBX_ARCHIVE_DECLARE

/*
 * 0 once libarchive is loaded; else -1 with a sentence in err (OCI_ERR_LEN
 * bytes, as oci_seterr() writes).  Loading again is free.
 */
int hbx_archive_load(char *err);

#endif
