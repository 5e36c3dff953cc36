// The HDF5 C API (Debian's libhdf5-dev, serial build) and small wrappers whose macros
// (H5P_DEFAULT, H5F_ACC_RDONLY, H5T_NATIVE_FLOAT) Swift cannot import.
#include <hdf5.h>
#include <string.h>

/// Opens `path` read-only, or returns a negative id. HDF5's own error printing is turned off:
/// callers report one line themselves.
static inline hid_t elmo_h5_open_readonly(const char *path) {
    // The thread-safe build keeps an error stack per calling thread; after reads from many threads (a
    // parallel test run) its exit-time shutdown gave up with "HDF5: infinite loop closing library".
    // Every file is closed by then and the process is ending: skip that shutdown. Effective only
    // before the library's first call, which this is; later calls fail harmlessly.
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
}

static inline void elmo_h5_close(hid_t file) { H5Fclose(file); }

/// 1 when `path` (slash-separated, from the root) names a dataset, else 0. Each link is checked in
/// turn because H5Lexists fails on a missing intermediate group.
static inline int elmo_h5_has_dataset(hid_t file, const char *path) {
    char prefix[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof prefix) return 0;
    for (size_t i = 1; i <= n; i++) {
        if (i == n || path[i] == '/') {
            memcpy(prefix, path, i);
            prefix[i] = 0;
            if (H5Lexists(file, prefix, H5P_DEFAULT) <= 0) return 0;
        }
    }
    hid_t dataset = H5Dopen2(file, path, H5P_DEFAULT);
    if (dataset < 0) return 0;
    H5Dclose(dataset);
    return 1;
}

/// The rank of dataset `path` with its extents in `dims` (at most `capacity`), or -1.
static inline int elmo_h5_shape(hid_t file, const char *path, unsigned long long *dims, int capacity) {
    hid_t dataset = H5Dopen2(file, path, H5P_DEFAULT);
    if (dataset < 0) return -1;
    hid_t space = H5Dget_space(dataset);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (rank >= 0 && rank <= capacity && rank <= 16) {
        hsize_t extents[16];
        H5Sget_simple_extent_dims(space, extents, NULL);
        for (int i = 0; i < rank; i++) dims[i] = extents[i];
    } else {
        rank = -1;
    }
    if (space >= 0) H5Sclose(space);
    H5Dclose(dataset);
    return rank;
}

/// Reads all of dataset `path` as float32 into `out` (HDF5 converts float64 and integers).
/// 0 on success, -2 when the dataset is not numeric, -1 when reading fails (e.g. a truncated file).
static inline int elmo_h5_read_float(hid_t file, const char *path, float *out) {
    hid_t dataset = H5Dopen2(file, path, H5P_DEFAULT);
    if (dataset < 0) return -1;
    hid_t type = H5Dget_type(dataset);
    H5T_class_t typeClass = H5Tget_class(type);
    H5Tclose(type);
    if (typeClass != H5T_FLOAT && typeClass != H5T_INTEGER) {
        H5Dclose(dataset);
        return -2;
    }
    herr_t status = H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    H5Dclose(dataset);
    return status < 0 ? -1 : 0;
}

// MARK: - Writing (the embedding files of `elmo embed`)
//
// Objects are created without timestamps, so the same sequence of calls writes the same bytes: a resumed
// embedding run ends with a file equal to an uninterrupted one.

/// Creates (truncates) `path` for writing, or returns a negative id. The root group carries no timestamps.
static inline hid_t elmo_h5_create(const char *path) {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_obj_track_times(fcpl, 0);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    return file;
}

/// Flushes and closes a file opened by `elmo_h5_create`; 0 on success.
static inline int elmo_h5_close_checked(hid_t file) { return H5Fclose(file) < 0 ? -1 : 0; }

/// Frees the blocks HDF5 keeps on its free lists after objects are closed (they grow with the objects made).
static inline void elmo_h5_release_free_lists(void) { H5garbage_collect(); }

static inline hid_t elmo_h5_utf8_link_properties(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_char_encoding(lcpl, H5T_CSET_UTF8);
    return lcpl;
}

/// Creates a little-endian float32 dataset `name` in the root group whose storage is allocated now,
/// contiguous and never filled: its bytes are written later, by file offset, outside HDF5. Returns that
/// offset, or -1 (a name clash, an invalid name, no space).
static inline long long elmo_h5_create_float_dataset(hid_t file, const char *name, int rank, const unsigned long long *dims) {
    if (rank < 1 || rank > 16) return -1;
    hsize_t extents[16];
    for (int i = 0; i < rank; i++) extents[i] = dims[i];
    hid_t space = H5Screate_simple(rank, extents, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(dcpl, H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t lcpl = elmo_h5_utf8_link_properties();
    hid_t dataset = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, lcpl, dcpl, H5P_DEFAULT);
    long long offset = -1;
    if (dataset >= 0) {
        haddr_t address = H5Dget_offset(dataset);
        if (address != HADDR_UNDEF) offset = (long long)address;
        H5Dclose(dataset);
    }
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
    return offset;
}

/// The file offset of contiguous dataset `name`'s data, or -1.
static inline long long elmo_h5_dataset_offset(hid_t file, const char *name) {
    hid_t dataset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dataset < 0) return -1;
    haddr_t address = H5Dget_offset(dataset);
    H5Dclose(dataset);
    return address == HADDR_UNDEF ? -1 : (long long)address;
}

static inline hid_t elmo_h5_utf8_string_type(void) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    return type;
}

/// A dataset of shape (1,) holding one variable-length UTF-8 string (h5py's `special_dtype(vlen=str)`).
static inline int elmo_h5_write_string_dataset(hid_t file, const char *name, const char *value) {
    hsize_t one = 1;
    hid_t space = H5Screate_simple(1, &one, NULL);
    hid_t type = elmo_h5_utf8_string_type();
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t lcpl = elmo_h5_utf8_link_properties();
    hid_t dataset = H5Dcreate2(file, name, type, space, lcpl, dcpl, H5P_DEFAULT);
    int status = -1;
    if (dataset >= 0) {
        status = H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0 ? -1 : 0;
        H5Dclose(dataset);
    }
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Tclose(type);
    H5Sclose(space);
    return status;
}

/// A scalar variable-length UTF-8 string attribute of the root group (what h5py writes for `attrs[k] = "…"`).
static inline int elmo_h5_set_string_attribute(hid_t file, const char *name, const char *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t type = elmo_h5_utf8_string_type();
    hid_t acpl = H5Pcreate(H5P_ATTRIBUTE_CREATE);
    H5Pset_char_encoding(acpl, H5T_CSET_UTF8);
    hid_t attribute = H5Acreate2(file, name, type, space, acpl, H5P_DEFAULT);
    int status = -1;
    if (attribute >= 0) {
        status = H5Awrite(attribute, type, &value) < 0 ? -1 : 0;
        H5Aclose(attribute);
    }
    H5Pclose(acpl);
    H5Tclose(type);
    H5Sclose(space);
    return status;
}

/// Root attribute `name` as a string: its length when it fits `capacity` (copied, NUL-terminated), the
/// length needed when it does not, -1 when missing or not a string.
static inline long long elmo_h5_get_string_attribute(hid_t file, const char *name, char *out, size_t capacity) {
    if (H5Aexists(file, name) <= 0) return -1;
    hid_t attribute = H5Aopen(file, name, H5P_DEFAULT);
    if (attribute < 0) return -1;
    hid_t fileType = H5Aget_type(attribute);
    long long length = -1;
    if (H5Tget_class(fileType) == H5T_STRING && H5Tis_variable_str(fileType) > 0) {
        hid_t type = elmo_h5_utf8_string_type();
        char *value = NULL;
        if (H5Aread(attribute, type, &value) >= 0 && value != NULL) {
            length = (long long)strlen(value);
            if ((size_t)length < capacity) memcpy(out, value, (size_t)length + 1);
            H5free_memory(value);
        }
        H5Tclose(type);
    }
    H5Tclose(fileType);
    H5Aclose(attribute);
    return length;
}

/// The number of links in the root group, or -1.
static inline long long elmo_h5_root_link_count(hid_t file) {
    H5G_info_t info;
    if (H5Gget_info(file, &info) < 0) return -1;
    return (long long)info.nlinks;
}

/// Element 0 of a variable-length string dataset `name`, copied like `elmo_h5_get_string_attribute`.
static inline long long elmo_h5_read_string_dataset(hid_t file, const char *name, char *out, size_t capacity) {
    hid_t dataset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dataset < 0) return -1;
    hid_t fileType = H5Dget_type(dataset);
    hid_t space = H5Dget_space(dataset);
    long long length = -1;
    if (H5Tget_class(fileType) == H5T_STRING && H5Tis_variable_str(fileType) > 0 && H5Sget_simple_extent_npoints(space) >= 1) {
        hid_t type = elmo_h5_utf8_string_type();
        hsize_t start = 0, one = 1;
        hid_t memorySpace = H5Screate_simple(1, &one, NULL);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &one, NULL);
        char *value = NULL;
        if (H5Dread(dataset, type, memorySpace, space, H5P_DEFAULT, &value) >= 0 && value != NULL) {
            length = (long long)strlen(value);
            if ((size_t)length < capacity) memcpy(out, value, (size_t)length + 1);
            H5free_memory(value);
        }
        H5Sclose(memorySpace);
        H5Tclose(type);
    }
    H5Sclose(space);
    H5Tclose(fileType);
    H5Dclose(dataset);
    return length;
}

/// Creates the groups along `path` that do not exist yet (each without timestamps); 0 on success.
static inline int elmo_h5_ensure_groups(hid_t file, const char *path) {
    char prefix[1024];
    size_t n = strlen(path);
    if (n >= sizeof prefix) return -1;
    for (size_t i = 1; i < n; i++) {
        if (path[i] != '/') continue;
        memcpy(prefix, path, i);
        prefix[i] = 0;
        if (H5Lexists(file, prefix, H5P_DEFAULT) > 0) continue;
        hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
        H5Pset_obj_track_times(gcpl, 0);
        hid_t group = H5Gcreate2(file, prefix, H5P_DEFAULT, gcpl, H5P_DEFAULT);
        H5Pclose(gcpl);
        if (group < 0) return -1;
        H5Gclose(group);
    }
    return 0;
}

/// Writes float32 dataset `path` (groups created as needed) holding `data`, row-major; 0 on success.
static inline int elmo_h5_write_float_array(hid_t file, const char *path, int rank, const unsigned long long *dims, const float *data) {
    if (rank < 1 || rank > 16 || elmo_h5_ensure_groups(file, path) != 0) return -1;
    hsize_t extents[16];
    for (int i = 0; i < rank; i++) extents[i] = dims[i];
    hid_t space = H5Screate_simple(rank, extents, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t dataset = H5Dcreate2(file, path, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int status = -1;
    if (dataset >= 0) {
        status = H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? -1 : 0;
        H5Dclose(dataset);
    }
    H5Pclose(dcpl);
    H5Sclose(space);
    return status;
}
