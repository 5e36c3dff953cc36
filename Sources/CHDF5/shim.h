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
