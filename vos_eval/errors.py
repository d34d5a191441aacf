"""The errors of bad video-object-segmentation input, whatever the dataset: each format's errors derive from these."""


class VOSFormatError(ValueError):
    """A dataset folder, list, mask or results folder does not follow its format; the message names the file."""


class VOSNotFoundError(VOSFormatError, FileNotFoundError):
    """A folder or file a dataset layout or a results folder needs is missing."""
