"""What Fashion-MNIST is: its ten classes, its image size and its official files.

Pure constants that import nothing heavy, so that the predictor and the server
can name classes without pulling in scikit-learn, the IDX reader or the downloader.
"""

# Label order from the dataset's README (zalandoresearch/fashion-mnist).
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 28
# The training label of a photo of a garment outside the ten classes (a hat, a skirt):
# trained towards a uniform answer, so that such photos come back "not sure"
# (outlier exposure, Hendrycks et al. 2019). Never a prediction.
OUTSIDE = -1

# Folder of each class under data/extra/, in label order: class names hold "/" and
# spaces ("T-shirt/top", "Ankle boot"), which make poor directory names.
EXTRA_FOLDERS: tuple[str, ...] = (
    "t-shirt_top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle_boot",
)  # fmt: skip

# The official gzipped IDX files of each split: (images, labels).
RAW_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
