"""Files: atomic output directories, the XLSX writer, the one slot-label format and clock parser."""
