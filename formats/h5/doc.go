// Package h5 reads Keras models from the files Keras writes: legacy HDF5
// (.h5) full models from Keras 1.x, 2.x and 3.x, weights-only HDF5 with the
// architecture JSON given separately, and Keras 3 .keras zip archives. The
// format is chosen from the file's content, never its extension.
//
// The package only moves data between files and a train.Model built from the
// train/layer catalog: it reads the model config, builds the model with
// train.FromKerasConfig, and assigns each weight array to the layer weight
// Keras would assign it to, checking shapes. Weight-format conversions that
// Keras itself applies while loading old files (Keras 1 per-gate recurrent
// weights, Keras 1 convolution kernel layouts) are applied here, as Keras's
// loader does; the Theano kernel flip is left to the layers, which see the
// backend in layer.Version.
//
// It is the only cgo package of kiln (gonum.org/v1/hdf5 over libhdf5).
// Calls into libhdf5 are serialized: Debian's serial build is not
// thread-safe.
package h5
