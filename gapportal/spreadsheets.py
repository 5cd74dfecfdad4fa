"""What any CSV the portal writes must do so that a spreadsheet opens it safely."""


def neutralise(cell: str) -> str:
    """Stop a spreadsheet from running a cell as a formula when it opens a CSV we wrote."""
    if cell and cell[0] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell
